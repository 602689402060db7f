import Foundation
import SyncProtocol

/// A file found in the watched folder that may be an article.
public struct ScannedFile: Sendable {
    /// Path relative to the watched folder, as spelled on disk.
    public var path: String
    public var article: ArticlePath
    /// The file's metadata (the target's, for a symlink that stays inside the folder).
    public var stat: FileStat
    /// The inode newsd last read or wrote at this path, once looked up: a different one means
    /// the file was made anew since (an editor's temp-and-rename save).
    public var recordedInode: UInt64?
}

/// What a walk of the folder (or a part of it) found.
public struct FolderScan: Sendable {
    public var files: [ScannedFile] = []
    public var skipped: [SkippedFile] = []
    /// Folders walked, relative; the watcher adds a watch for each.
    public var folders: [String] = []
    /// newsd's own temp files (`.newsd-*.tmp`); at start-up, leftovers of a write cut short by a crash.
    public var leftovers: [String] = []
}

/// Walks the watched folder without following symlinked folders (no loops, no escaping the folder).
public struct FolderScanner: Sendable {
    public let root: String
    public let rootReal: String
    public let ignore: IgnoreRules
    public let maximumFileBytes: Int64

    public init(root: String, ignore: IgnoreRules, maximumFileBytes: Int64) {
        self.root = root
        self.rootReal = FileSystem.realpath(root) ?? root
        self.ignore = ignore
        self.maximumFileBytes = maximumFileBytes
    }

    public func absolute(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    /// Walks `relative` (empty for the whole folder).
    public func scan(_ relative: String = "") -> FolderScan {
        var scan = FolderScan()
        walk(relative, into: &scan)
        return scan
    }

    private func walk(_ relative: String, into scan: inout FolderScan) {
        let names: [String]
        do { names = try FileSystem.list(absolute(relative)) } catch {
            if !error.isNotFound { scan.skipped.append(SkippedFile(path: relative.isEmpty ? "." : relative, reason: "folder unreadable: \(error)")) }
            return
        }
        scan.folders.append(relative)
        let directory = open(absolute(relative), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        for name in names.sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            if FileSystem.isTempName(name) {
                scan.leftovers.append(path)
                continue
            }
            switch classify(path, name: name, directory: directory >= 0 ? directory : nil) {
            case .file(let file): scan.files.append(file)
            case .folder: walk(path, into: &scan)
            case .skipped(let skipped): scan.skipped.append(skipped)
            case .ignored, .missing: break
            }
        }
    }

    public enum Classification: Sendable {
        case file(ScannedFile)
        case folder
        case skipped(SkippedFile)
        case ignored
        case missing
    }

    /// Decides what one path is. Every path that is neither an article nor ignored by a pattern
    /// comes back as `.skipped` with the reason, so nothing is passed over silently.
    /// `name` and `directory` (an open descriptor of its folder), when the caller has them, save
    /// the kernel a walk of the whole path.
    public func classify(_ path: String, name: String? = nil, directory: Int32? = nil) -> Classification {
        if ignore.ignores(path: path) { return .ignored }
        let st: FileStat
        do {
            if let name, let directory { st = try FileSystem.lstat(name, in: directory, path: absolute(path)) } else { st = try FileSystem.lstat(absolute(path)) }
        } catch {
            return error.isNotFound ? .missing : .skipped(SkippedFile(path: path, reason: "cannot stat: \(error)"))
        }
        let article: ArticlePath
        do { article = try ArticlePath(path) } catch {
            return .skipped(SkippedFile(path: path, reason: "not a valid article path: \(error)"))
        }
        if let why = article.unsafeReason, st.kind != .directory {
            return .skipped(SkippedFile(path: path, reason: "not recorded: its name \(why)"))
        }
        switch st.kind {
        case .directory:
            return .folder
        case .other:
            return .skipped(SkippedFile(path: path, reason: "not a regular file"))
        case .symlink:
            let full = absolute(path)
            guard let target = FileSystem.realpath(full) else {
                return .skipped(SkippedFile(path: path, reason: "symlink whose target is missing or loops"))
            }
            guard target.hasPrefix(rootReal + "/") else {
                return .skipped(SkippedFile(path: path, reason: "symlink points outside the watched folder (\(target))"))
            }
            guard let targetStat = try? FileSystem.stat(full), targetStat.kind == .file else {
                return .skipped(SkippedFile(path: path, reason: "symlink to a folder or special file (not followed)"))
            }
            return sized(ScannedFile(path: path, article: article, stat: targetStat))
        case .file:
            return sized(ScannedFile(path: path, article: article, stat: st))
        }
    }

    private func sized(_ file: ScannedFile) -> Classification {
        guard file.stat.size <= maximumFileBytes else {
            return .skipped(SkippedFile(path: file.path, reason: "\(file.stat.size) bytes, over the size limit of \(maximumFileBytes)"))
        }
        return .file(file)
    }
}
