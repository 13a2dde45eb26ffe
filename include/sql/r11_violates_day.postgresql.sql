-- R11: a timestamp treated `day` must be midnight UTC of its Amsterdam day (r9_treat_day);
-- any time of day left is the original moment.
{column} IS NOT NULL AND {column} <> date_trunc('day', {column}, 'UTC')
