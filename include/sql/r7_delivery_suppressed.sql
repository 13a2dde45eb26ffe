-- R7: how many rows of a delivery were dropped because the person is on the suppression list.
UPDATE deliveries
SET rows_suppressed = :rows_suppressed
WHERE id = :delivery_id
