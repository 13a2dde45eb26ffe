-- R11 proof of R9: anonymised open answers ({column}) of assignments past term that could
-- hold an identifier pattern; the candidates are checked with find_identifiers in Python.
-- Every kind include.anonymisers.text.find_identifiers reports needs one of: an '@'
-- (e-mail), two letters and two digits (IBAN), four digits and two letters (postcode), or
-- seven digits in the whole text (phone, BSN): scrubbed answers with a score or a number of
-- minutes in them never leave the database. (ASCII digits: the scrubber writes no others.)
-- The CASE makes PostgreSQL match the pattern only on answers past term, not on every answer
-- of the client (it would otherwise filter first and join to the assignments after).
SELECT {column} AS text
FROM responses
WHERE client_id = :client_id
  AND {column} IS NOT NULL
  AND CASE WHEN assignment_id IN (SELECT assignment_id
                                  FROM assignments
                                  WHERE client_id = :client_id
                                    AND term_ends_on <= :as_of)
           THEN {column} ~ '@|[A-Za-z]{{2}}[0-9]{{2}}|[1-9][0-9]{{3}} ?[A-Za-z]{{2}}|([0-9][^0-9]*){{7}}'
      END
