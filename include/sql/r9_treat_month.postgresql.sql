-- R9 treatment `month`: a date becomes the first day of its month.
CAST(date_trunc('month', {column}) AS date)
