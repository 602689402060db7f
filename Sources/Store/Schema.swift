/// The log's schema, one migration per element. Never edit a migration that has shipped: add one.
enum Schema {
    static let migrations: [String] = [v1, v2, v3, v4, v5, v6, v7, v8]

    static let v1 = """
    -- Every site whose entries the log holds, with the key that verifies them.
    CREATE TABLE sites (
        site_id    TEXT PRIMARY KEY,   -- fingerprint of public_key, as printed (SiteID)
        public_key BLOB NOT NULL       -- DER SubjectPublicKeyInfo (P-256)
    ) STRICT;

    -- Content-addressed article bytes: one row per distinct content, whatever its paths or versions.
    CREATE TABLE blobs (
        hash     BLOB PRIMARY KEY,     -- SHA-256 of the raw bytes (32 bytes)
        size     INTEGER NOT NULL,     -- raw size in bytes
        encoding INTEGER NOT NULL,     -- 0: stored raw; 1: zstd, when that is smaller
        data     BLOB NOT NULL         -- the bytes, as `encoding` says
    ) STRICT, WITHOUT ROWID;

    -- The append-only log: one row per version of an article, from any origin.
    CREATE TABLE entries (
        local_seq    INTEGER PRIMARY KEY, -- order of arrival at this site; every entry's parents come earlier
        version      BLOB NOT NULL UNIQUE,-- SHA-256 of the canonical encoding of the fields below (VersionID)
        origin       TEXT NOT NULL,       -- site that made the change (sites.site_id)
        origin_seq   INTEGER NOT NULL,    -- 1, 2, 3 ... per origin, no gaps
        article      TEXT NOT NULL,       -- path relative to the watched folder, '/'-separated, NFC
        op           INTEGER NOT NULL,    -- 1 put, 2 delete
        content_hash BLOB,                -- blobs.hash of the bytes for a put; NULL for a delete
        size         INTEGER NOT NULL,    -- bytes of the content (0 for a delete)
        replaces     BLOB NOT NULL,       -- concatenated 32-byte versions this one replaces, sorted
        hlc          INTEGER NOT NULL,    -- origin time, hybrid logical clock (ms << 16 | counter)
        previous     BLOB,                -- version of the origin's entry origin_seq - 1; NULL for 1
        signature    BLOB NOT NULL,       -- origin's ECDSA P-256 signature over version (64 bytes raw)
        received_ms  INTEGER NOT NULL,    -- wall time this site stored it; not covered by the hash
        UNIQUE (origin, origin_seq)
    ) STRICT;
    CREATE INDEX entries_by_article ON entries (article, local_seq);
    CREATE INDEX entries_by_time ON entries (hlc);

    -- Append-only, enforced by the database: nothing in the log is ever changed or removed.
    CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'the log is append-only: entries cannot be updated'); END;
    CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'the log is append-only: entries cannot be deleted'); END;
    CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be updated'); END;
    CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be deleted'); END;
    CREATE TRIGGER sites_no_update BEFORE UPDATE ON sites BEGIN SELECT RAISE(ABORT, 'the log is append-only: sites cannot be updated'); END;
    CREATE TRIGGER sites_no_delete BEFORE DELETE ON sites BEGIN SELECT RAISE(ABORT, 'the log is append-only: sites cannot be deleted'); END;

    -- Derived from entries, kept in the same transaction as each append; rebuilt by verify's check.
    -- The versions of each article that no other entry replaces: one normally, more in a conflict.
    CREATE TABLE heads (
        article TEXT NOT NULL,            -- entries.article
        version BLOB NOT NULL,            -- entries.version
        PRIMARY KEY (article, version)
    ) STRICT, WITHOUT ROWID;

    -- A cache of what each file looked like when last read, so a restart skips unchanged files.
    -- Not part of the log: losing it costs a re-hash, nothing else.
    CREATE TABLE file_state (
        path         TEXT PRIMARY KEY,    -- path relative to the watched folder, as on disk
        article      TEXT NOT NULL,       -- its ArticlePath (NFC)
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        ctime_ns     INTEGER NOT NULL,
        inode        INTEGER NOT NULL,
        content_hash BLOB NOT NULL        -- SHA-256 of the bytes read (or written) then
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX file_state_by_article ON file_state (article);
    """

    /// Finds the entries that carry a content, so replication can tell that a peer already holds it
    /// (a renamed article) and send nothing.
    static let v2 = """
    CREATE INDEX entries_by_content ON entries (content_hash);
    """

    /// Each file's base: the version its bytes came from, so a local change replaces exactly that
    /// version and no head the file never held. Rows made before this column get the version of
    /// their content, a head where one has it, else the newest such entry.
    static let v3 = """
    ALTER TABLE file_state ADD COLUMN base BLOB; -- entries.version the file's bytes came from; NULL if none is known
    UPDATE file_state SET base = (
        SELECT e.version FROM entries e
        WHERE e.article = file_state.article AND e.content_hash = file_state.content_hash
        ORDER BY (SELECT count(*) FROM heads h WHERE h.article = e.article AND h.version = e.version) DESC, e.local_seq DESC
        LIMIT 1);
    """

    /// Revoked sites: their entries up to what this log held at the revocation stay (the log is
    /// append-only); later ones relayed by any peer are stored but held aside. Mirrors the config's `revoked`.
    static let v4 = """
    CREATE TABLE revocations (
        site_id    TEXT PRIMARY KEY,  -- the revoked origin (SiteID as printed)
        held_seq   INTEGER NOT NULL,  -- its highest sequence this log held when revoked; later ones are held aside
        revoked_ms INTEGER NOT NULL   -- wall time the revocation took effect here
    ) STRICT;
    """

    /// Entries kept beside their origin's chain: a site that ran on an old copy of its log signed a
    /// second chain from the place its copy ended, and the log keeps both. Such a row's place in
    /// the chain is `fork_seq`; its `origin_seq` is negative (-1, -2 … per origin), so the chain's
    /// numbers stay unique and every query of the chain passes it by.
    static let v5 = """
    ALTER TABLE entries ADD COLUMN fork_seq INTEGER; -- set only for an entry kept beside its origin's chain: its sequence there
    CREATE INDEX entries_beside ON entries (origin, fork_seq) WHERE fork_seq IS NOT NULL;
    """

    /// Who made each entry's change at its origin (protocol v5), signed by the origin apart from
    /// the entry, so entries and their chains are unchanged. Entries made before, or relayed by a
    /// site on an older protocol, have no row. Append-only like the log.
    static let v6 = """
    CREATE TABLE authors (
        version   BLOB PRIMARY KEY,   -- entries.version
        name      TEXT NOT NULL,      -- as the origin knows the account: `lan`, `uid 1001`, `web:thu`
        signature BLOB NOT NULL       -- the origin's ECDSA P-256 signature over the name and version (EntryAuthor)
    ) STRICT, WITHOUT ROWID;
    CREATE TRIGGER authors_no_update BEFORE UPDATE ON authors BEGIN SELECT RAISE(ABORT, 'the log is append-only: authors cannot be updated'); END;
    CREATE TRIGGER authors_no_delete BEFORE DELETE ON authors BEGIN SELECT RAISE(ABORT, 'the log is append-only: authors cannot be deleted'); END;
    """

    /// Blob bytes apart from the index that finds them. Kept in one table keyed by hash, each
    /// blob's bytes (about 3 KB compressed) went to a random place in a b-tree of large rows:
    /// pages split half empty (40 % of the file at 100k articles) and every batch rewrote pages all
    /// over it. Now bytes are appended in the order stored, and the hash index holds small rows;
    /// counting what is stored reads the index alone. The old table's pages go to the free list
    /// and are reused by later blobs.
    static let v7 = """
    CREATE TABLE blob_bytes (
        id   INTEGER PRIMARY KEY,     -- in the order stored
        data BLOB NOT NULL            -- the bytes, as blobs.encoding says
    ) STRICT;
    CREATE TABLE blobs_v7 (
        hash     BLOB PRIMARY KEY,    -- SHA-256 of the raw bytes (32 bytes)
        size     INTEGER NOT NULL,    -- raw size in bytes
        encoding INTEGER NOT NULL,    -- 0: stored raw; 1: zstd, when that is smaller
        stored   INTEGER NOT NULL,    -- bytes of blob_bytes.data
        bytes_id INTEGER NOT NULL     -- blob_bytes.id
    ) STRICT, WITHOUT ROWID;
    INSERT INTO blobs_v7 (hash, size, encoding, stored, bytes_id)
        SELECT hash, size, encoding, length(data), row_number() OVER (ORDER BY hash) FROM blobs;
    -- In hash order, which is bytes_id order: no sort of every blob's bytes in temporary files.
    INSERT INTO blob_bytes (id, data)
        SELECT n.bytes_id, b.data FROM blobs_v7 n JOIN blobs b ON b.hash = n.hash ORDER BY n.hash;
    DROP TRIGGER blobs_no_update;
    DROP TRIGGER blobs_no_delete;
    DROP TABLE blobs;
    ALTER TABLE blobs_v7 RENAME TO blobs;
    CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be updated'); END;
    CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be deleted'); END;
    CREATE TRIGGER blob_bytes_no_update BEFORE UPDATE ON blob_bytes BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be updated'); END;
    CREATE TRIGGER blob_bytes_no_delete BEFORE DELETE ON blob_bytes BEGIN SELECT RAISE(ABORT, 'the log is append-only: blobs cannot be deleted'); END;
    """

    /// Each head's operation and content beside it, so which articles are live, deleted or in
    /// conflict, and which files are out of step, are read from the heads alone: the start-up scan,
    /// the counts at open and a folder event each joined every head to its entry (100,000 index
    /// lookups at 100,000 articles). Derived like the rest of the table; verify checks it.
    static let v8 = """
    ALTER TABLE heads ADD COLUMN op INTEGER NOT NULL DEFAULT 0; -- entries.op of the version: 1 put, 2 delete
    ALTER TABLE heads ADD COLUMN content_hash BLOB;             -- entries.content_hash of the version
    UPDATE heads SET op = coalesce((SELECT e.op FROM entries e WHERE e.version = heads.version), 0),
                     content_hash = (SELECT e.content_hash FROM entries e WHERE e.version = heads.version);
    """
}
