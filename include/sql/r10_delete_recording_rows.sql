-- R10: the rows of recordings whose files are gone.
DELETE FROM recordings
WHERE state = 'deleting'
  AND id IN :ids
