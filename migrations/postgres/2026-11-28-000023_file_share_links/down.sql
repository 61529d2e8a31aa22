DROP TABLE file_links;
