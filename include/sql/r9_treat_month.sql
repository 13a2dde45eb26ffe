-- R9 treatment `month`: a date becomes the first day of its month.
date({column}, 'start of month')
