import SyncProtocol

/// What a file looked like when newsd last read or wrote it: if size, times and inode still match,
/// its bytes are taken as unchanged and not read again.
///
/// `base` is the version those bytes came from (the version newsd wrote there, or recorded from
/// there). A local change replaces exactly that version: heads the file never held stay heads.
public struct FileState: Sendable, Equatable {
    public var path: String
    public var article: ArticlePath
    public var size: Int64
    public var mtimeNanos: Int64
    public var ctimeNanos: Int64
    public var inode: UInt64
    public var contentHash: ContentHash
    public var base: VersionID?

    public init(path: String, article: ArticlePath, size: Int64, mtimeNanos: Int64, ctimeNanos: Int64, inode: UInt64,
                contentHash: ContentHash, base: VersionID? = nil) {
        self.path = path
        self.article = article
        self.size = size
        self.mtimeNanos = mtimeNanos
        self.ctimeNanos = ctimeNanos
        self.inode = inode
        self.contentHash = contentHash
        self.base = base
    }

    /// Same file, same bytes, as far as metadata can tell.
    public func matches(size: Int64, mtimeNanos: Int64, ctimeNanos: Int64, inode: UInt64) -> Bool {
        self.size == size && self.mtimeNanos == mtimeNanos && self.ctimeNanos == ctimeNanos && self.inode == inode
    }
}

/// One row of the scan cache as a start-up scan needs it: the metadata to compare with the walk,
/// and the article only when it is not spelled like the path (a name not in NFC). Loading whole
/// `FileState`s (an article path checked, a hash and a base copied per row) was a tenth of a
/// restart over 100,000 unchanged files.
public struct CachedFile: Sendable, Equatable {
    public var size: Int64
    public var mtimeNanos: Int64
    public var ctimeNanos: Int64
    public var inode: UInt64
    /// The article, when it differs from the path.
    public var otherArticle: String?

    public func matches(size: Int64, mtimeNanos: Int64, ctimeNanos: Int64, inode: UInt64) -> Bool {
        self.size == size && self.mtimeNanos == mtimeNanos && self.ctimeNanos == ctimeNanos && self.inode == inode
    }

    public func article(path: String) -> String { otherArticle ?? path }
}
