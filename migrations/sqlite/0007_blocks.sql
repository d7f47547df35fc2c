-- Packed blocks (src/store/block.rs): a series' values over one 30-day span in one record, a copy
-- of its rows for reading, forgotten by any write touching the span and made again on read.
CREATE TABLE blocks (
    series_id INTEGER NOT NULL REFERENCES series (id),
    block     INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    PRIMARY KEY (series_id, block)
);
