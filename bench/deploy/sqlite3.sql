-- bench/deploy.sh's fixed input for sqlite3 (WASI stdin, an in-memory
-- database): a little of everything a first request might do.
CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, price REAL, qty INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO item SELECT i, printf('item-%04d', i), (i * 37 % 1000) / 10.0, i % 17 FROM n;
CREATE INDEX item_price ON item(price);
SELECT count(*), sum(qty), printf('%.2f', avg(price)) FROM item;
SELECT name, price FROM item WHERE price BETWEEN 10 AND 10.5 ORDER BY price, id;
SELECT qty, count(*), printf('%.3f', total(price)) FROM item GROUP BY qty ORDER BY qty;
SELECT upper(substr(name, 1, 4)) || '/' || length(name), hex(zeroblob(2)) FROM item WHERE id IN (1, 999, 2000);
SELECT json_object('id', id, 'name', name) FROM item WHERE id % 500 = 0;
SELECT sqlite_version();
