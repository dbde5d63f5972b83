-- 0005 routing generation: one counter, raised by every change to what prices a message
-- (messaging providers and their rates; not their health). A process keeps the rate decks
-- in memory and reads this counter in the same transaction as a message's checks: a copy
-- built at an older value is stale, so a change made through any process on the same
-- database is seen by the next message everywhere. The triggers are per backend.
CREATE TABLE routing_gen (
  id INTEGER PRIMARY KEY,
  gen BIGINT NOT NULL
);
INSERT INTO routing_gen (id, gen) VALUES (1, 0);
