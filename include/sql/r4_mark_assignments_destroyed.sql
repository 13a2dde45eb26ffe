-- R4: the assignments hold no data any more.
UPDATE assignments
SET status = 'destroyed', destroyed_on = :as_of
WHERE client_id = :client_id
  AND status <> 'destroyed'
  AND (:whole_client OR assignment_id IN :assignment_ids)
