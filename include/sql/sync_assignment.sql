-- Config sync (R2, R4): completion and destruction dates come from the config;
-- an assignment already anonymised or destroyed keeps that status.
INSERT INTO assignments (client_id, assignment_id, title, completed_on,
                         destruction_requested_on, term_ends_on, status)
VALUES (:client_id, :assignment_id, :title, :completed_on,
        :destruction_requested_on, :term_ends_on, :status)
ON CONFLICT (client_id, assignment_id) DO UPDATE SET
    title = excluded.title,
    completed_on = excluded.completed_on,
    destruction_requested_on = excluded.destruction_requested_on,
    term_ends_on = excluded.term_ends_on,
    status = CASE WHEN assignments.status IN ('anonymised', 'destroyed')
                  THEN assignments.status ELSE excluded.status END
