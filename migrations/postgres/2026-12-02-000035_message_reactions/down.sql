DROP TABLE chat_reactions;
