-- Packed blocks (src/store/block.rs, src/store/pg_blocks.rs): a series' values over one 30-day
-- span in one record, a copy of its rows for reading, forgotten by any write touching the span
-- and made again on read. Stored out of line uncompressed: packed floats barely compress, and
-- reading them should cost no decompression.
CREATE TABLE blocks (
    series_id BIGINT NOT NULL REFERENCES series (id),
    block     BIGINT NOT NULL,
    data      BYTEA  NOT NULL,
    PRIMARY KEY (series_id, block)
);
ALTER TABLE blocks ALTER COLUMN data SET STORAGE EXTERNAL;
