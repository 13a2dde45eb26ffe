-- R11: a date treated `month` must be the first day of its month (r9_treat_month).
{column} IS NOT NULL AND strftime('%d', {column}) <> '01'
