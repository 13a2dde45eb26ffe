-- Recordings ingest: one stored recording, linked to its respondent.
INSERT INTO recordings (client_id, assignment_id, respondent_id, file_name, stored_path, sha256, recorded_at,
                        duration_seconds, sample_rate, channels, sample_width, size_bytes, delivery_id, state)
VALUES (:client_id, :assignment_id, :respondent_id, :file_name, :stored_path, :sha256, :recorded_at,
        :duration_seconds, :sample_rate, :channels, :sample_width, :size_bytes, :delivery_id, 'stored')
