-- R9 treatment `remove`: a direct identifier is removed.
NULL
