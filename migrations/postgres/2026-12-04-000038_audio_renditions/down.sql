DROP TABLE file_renditions;
