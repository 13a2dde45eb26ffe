-- R11 proof of R9: anonymised open answers ({column}) of assignments past term that could
-- hold an identifier pattern. Every kind include.anonymisers.text.find_identifiers reports
-- needs an '@' (e-mail) or at least two digits (phone, IBAN, BSN, postcode), so the rest is
-- left out here; the candidates are checked with find_identifiers in Python.
SELECT {column} AS text
FROM responses
WHERE client_id = :client_id
  AND assignment_id IN (SELECT assignment_id
                        FROM assignments
                        WHERE client_id = :client_id
                          AND term_ends_on <= :as_of)
  AND {column} IS NOT NULL
  AND (instr({column}, '@') > 0 OR {column} GLOB '*[0-9]*[0-9]*')
