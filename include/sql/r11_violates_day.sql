-- R11: a timestamp treated `day` must be midnight UTC of its Amsterdam day (r9_treat_day);
-- any time of day left is the original moment.
{column} IS NOT NULL AND strftime('%H:%M:%f', {column}) <> '00:00:00.000'
