-- R6 rectification: set the given answer fields of the matched people; a field not given keeps its value.
UPDATE responses
SET answer_text = CASE WHEN :set_answer_text THEN :answer_text ELSE answer_text END,
    ip_address = CASE WHEN :set_ip_address THEN :ip_address ELSE ip_address END,
    user_agent = CASE WHEN :set_user_agent THEN :user_agent ELSE user_agent END
WHERE respondent_id IN :ids
