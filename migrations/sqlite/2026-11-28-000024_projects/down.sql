DROP TABLE project_invites;
DROP TABLE project_members;
DROP TABLE projects;
