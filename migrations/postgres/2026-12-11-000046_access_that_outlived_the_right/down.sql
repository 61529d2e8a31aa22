-- The repair cannot be told apart from what the rules do since: nothing to undo.
SELECT 1;
