-- R11 proof of R9: anonymised respondents of the client in equivalence classes over the
-- quasi-identifiers ({classes}, from the data map) with fewer than k members. NULL (not
-- given) is a value of its own. The class with every quasi-identifier withheld ('*') tells
-- none of its members apart, so it is not counted (a client with fewer than k anonymised
-- respondents in all ends up there). Reads ix_respondents_k_classes only.
SELECT count(*) AS classes, COALESCE(sum(members), 0) AS respondents
FROM (SELECT count(*) AS members
      FROM respondents
      WHERE client_id = :client_id
        AND anonymised_on IS NOT NULL
        AND NOT ({all_withheld})
      GROUP BY {classes}
      HAVING count(*) < :k) AS small
