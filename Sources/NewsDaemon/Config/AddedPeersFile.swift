import Foundation
import Glibc
import SyncProtocol
import TOMLKit

/// Peers added at run time with `newsctl peers add`, kept in the data folder (`peers.toml`).
///
/// The data folder, not `/etc`: the unit lets newsd write only there, and the file belongs to the
/// site as its key does (a restored backup keeps the folder's). newsd is its only writer: it is
/// rewritten whole (temp file, fsync, rename, fsync of the folder) under the directory's lock, so
/// a reader sees the old list or the new one. Peers from `--config` and `--peer` compose with it:
/// a site listed in both is the config's (an added entry for it is ignored, and `peers add`
/// refuses it while the config lists it).
public struct AddedPeersFile: Sendable, Equatable {
    public static let fileName = "peers.toml"

    /// One added peer, as the file keeps it.
    public struct Entry: Codable, Sendable, Equatable {
        /// The site ID in its checked form.
        public var site: String
        /// `HOST:PORT` to dial; absent for a peer this site only accepts.
        public var address: String?
        /// A name the operator gave (`--name`), shown beside the ID.
        public var name: String?
        /// When it was added (ISO 8601), for the operator reading the file.
        public var added: String?
    }

    struct Document: Codable {
        var peer: [Entry]?
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    public static func path(dataDir: String) -> String { dataDir + "/" + fileName }

    /// The file in `dataDir`; empty when there is none.
    public static func load(dataDir: String) throws -> AddedPeersFile {
        let path = path(dataDir: dataDir)
        guard let data = FileManager.default.contents(atPath: path) else {
            if access(path, F_OK) == 0 { throw ConfigFile.Invalid(file: path, detail: "cannot read it") }
            return AddedPeersFile()
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> AddedPeersFile {
        let document: Document
        do { document = try TOMLDecoder().decode(Document.self, from: text) } catch {
            throw ConfigFile.Invalid(file: file, detail: "not a list of added peers (`newsctl peers add` writes it): \(error)")
        }
        let entries = document.peer ?? []
        for entry in entries {
            do { _ = try entry.peerAddress() } catch { throw ConfigFile.Invalid(file: file, detail: "\(error)") }
        }
        return AddedPeersFile(entries: entries)
    }

    /// The peers as the daemon uses them.
    public func peerAddresses() throws -> [PeerAddress] { try entries.map { try $0.peerAddress() } }

    public func text() throws -> String {
        let header = """
            # Peers added with `newsctl peers add`, removed with `newsctl peers remove`.
            # newsd rewrites this file whole: change it with newsctl, not by hand.
            # Peers in the config file (`peers`) and --peer flags are added to these.


            """
        return header + (try TOMLEncoder().encode(Document(peer: entries))) + "\n"
    }

    /// Writes the file so that a crash leaves the old list or the new one.
    public func save(dataDir: String) throws {
        try FileSystem.replaceDurably(Array(try text().utf8), at: Self.path(dataDir: dataDir), mode: 0o640)
    }
}

extension AddedPeersFile.Entry {
    public init(_ peer: PeerAddress, added: Date) {
        site = peer.site.description
        address = peer.endpoint?.description
        name = peer.name
        self.added = VersionInfo.format(milliseconds: UInt64(added.timeIntervalSince1970 * 1000))
    }

    func peerAddress() throws -> PeerAddress {
        var peer = try PeerAddress(address.map { "\(site)@\($0)" } ?? site)
        peer.name = name
        return peer
    }
}
