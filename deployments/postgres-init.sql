-- The Prefect server keeps its state in a database of its own beside verdictflow's.
CREATE DATABASE prefect OWNER verdictflow;
