import Foundation
import Logging
import Synchronization
import SyncProtocol
import Testing
import TestSupport
@testable import NewsDaemon

/// The peer list newsctl changes: what is kept, what composes with the config, what is refused.
@Suite struct PeerDirectoryTests {
    let folder = TemporaryFolder("peer-directory")

    func config(peers: [PeerAddress] = [], revoked: [SiteID] = []) throws -> DaemonConfig {
        var config = try DaemonConfig.resolve(configFile: nil, overrides: .init(watch: folder.sub("w"), data: folder.path), environment: [:])
        config.peers = peers
        config.revoked = revoked
        return config
    }

    /// What the directory last handed to replication.
    final class Applied: Sendable {
        let peers = Mutex<[PeerAddress]>([])
    }

    @Test func addedPeersAreKeptComposeWithTheConfigAndAreRefusedWhereTheConfigDecides() async throws {
        let local = SiteKey().siteID, listed = SiteKey().siteID, added = SiteKey().siteID, revoked = SiteKey().siteID
        let applied = Applied()
        let directory = PeerDirectory(local: local, config: try config(peers: [PeerAddress(site: listed, endpoint: nil)], revoked: [revoked]),
                                      logger: Logger(label: "test")) { peers in applied.peers.withLock { $0 = peers } }

        #expect(try await directory.add(PeerAddress(site: added, endpoint: try Endpoint("127.0.0.1:7421"), name: "Đà Nẵng")) == .added)
        #expect(applied.peers.withLock { $0 }.map(\.site) == [listed, added])
        // Kept: a config resolved anew (a restart) has it, name and address included.
        let reread = try config().addedPeers
        #expect(reread == [PeerAddress(site: added, endpoint: try Endpoint("127.0.0.1:7421"), name: "Đà Nẵng")])

        // Again: unchanged; another address: updated, and the time it was first added stays.
        let firstAdded = try AddedPeersFile.load(dataDir: folder.path).entries.first?.added
        #expect(try await directory.add(PeerAddress(site: added, endpoint: try Endpoint("127.0.0.1:7421"), name: "Đà Nẵng")) == .unchanged)
        #expect(try await directory.add(PeerAddress(site: added, endpoint: try Endpoint("127.0.0.1:7422"))) == .updated)
        #expect(try AddedPeersFile.load(dataDir: folder.path).entries.first?.added == firstAdded)

        // The config's own peer, this site, a revoked site: refused, nothing written.
        let before = try String(contentsOfFile: AddedPeersFile.path(dataDir: folder.path), encoding: .utf8)
        await #expect(throws: PeerDirectory.Refusal.self) { try await directory.add(PeerAddress(site: listed, endpoint: try Endpoint("10.0.0.1:1"))) }
        #expect(try await directory.add(PeerAddress(site: listed, endpoint: nil)) == .unchanged, "as the config has it: nothing to do")
        await #expect(throws: PeerDirectory.Refusal.self) { try await directory.add(PeerAddress(site: local, endpoint: nil)) }
        await #expect(throws: PeerDirectory.Refusal.self) { try await directory.add(PeerAddress(site: revoked, endpoint: nil)) }
        await #expect(throws: PeerDirectory.Refusal.self) { try await directory.remove(listed) }
        await #expect(throws: PeerDirectory.Refusal.self) { try await directory.remove(SiteKey().siteID) }
        #expect(try String(contentsOfFile: AddedPeersFile.path(dataDir: folder.path), encoding: .utf8) == before)

        // A reload that lists the added site itself: the config's entry wins, the added one stays kept.
        await directory.reload(try config(peers: [PeerAddress(site: listed, endpoint: nil), PeerAddress(site: added, endpoint: nil)]))
        #expect(applied.peers.withLock { $0 } == [PeerAddress(site: listed, endpoint: nil), PeerAddress(site: added, endpoint: nil)])
        // A reload that revokes it: not trusted, whatever the added list says.
        await directory.reload(try config(peers: [PeerAddress(site: listed, endpoint: nil)], revoked: [added]))
        #expect(applied.peers.withLock { $0 }.map(\.site) == [listed])

        await directory.reload(try config(peers: [PeerAddress(site: listed, endpoint: nil)]))
        let gone = try await directory.remove(added)
        #expect(gone.site == added)
        #expect(applied.peers.withLock { $0 }.map(\.site) == [listed])
        #expect(try config().addedPeers.isEmpty, "an empty list reads back as empty")
    }

    @Test func aPeersFileThatIsNotOneStopsTheStartNamingIt() throws {
        folder.write(AddedPeersFile.fileName, "[[peer]]\nsite = \"not a site\"\n")
        #expect {
            try config()
        } throws: { error in
            "\(error)".contains(AddedPeersFile.fileName) && "\(error)".contains("not a site")
        }
    }

    @Test func refusedSitesAreRememberedWithinABoundAndForgottenWhenAdded() throws {
        let local = SiteKey().siteID
        let registry = PeerRegistry(local: local, peers: [], logger: Logger(label: "test"))
        let first = SiteKey().siteID
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        registry.notePending(first, from: "10.0.0.9", at: start)
        registry.notePending(first, from: "10.0.0.7", at: start + 5)
        registry.notePending(local, from: "127.0.0.1", at: start)
        var pending = registry.pendingPeers
        #expect(pending.count == 1)
        #expect(pending.first?.attempts == 2 && pending.first?.address == "10.0.0.7")
        #expect(pending.first?.accept == "newsctl peers add \(first)")

        // Anyone can make keys: past the bound, the least recent are forgotten.
        for index in 0..<(PeerRegistry.maximumPending + 10) {
            registry.notePending(SiteKey().siteID, from: "10.0.1.\(index % 250)", at: start + Double(10 + index))
        }
        pending = registry.pendingPeers
        #expect(pending.count == PeerRegistry.maximumPending)
        #expect(!pending.contains { $0.id == first.description }, "the oldest went first")

        // One address floods made-up sites: it pushes out its own, not the others'.
        let other = SiteKey().siteID
        registry.notePending(other, from: "192.0.2.1", at: start + 5000)
        for index in 0..<40 { registry.notePending(SiteKey().siteID, from: "198.51.100.7", at: start + 6000 + Double(index)) }
        pending = registry.pendingPeers
        #expect(pending.filter { $0.address == "198.51.100.7" }.count == PeerRegistry.maximumPendingPerAddress)
        #expect(pending.contains { $0.id == other.description })

        let newest = try #require(SiteID(pending[0].id))
        registry.configure([PeerAddress(site: newest, endpoint: nil)])
        #expect(!registry.pendingPeers.contains { $0.id == newest.description })
    }
}
