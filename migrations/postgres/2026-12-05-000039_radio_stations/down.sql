DROP TABLE radio_playlist;
DROP TABLE radio_stations;
