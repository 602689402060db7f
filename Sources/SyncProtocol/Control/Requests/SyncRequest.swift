/// `newsctl sync [SITEID]`: dial now instead of waiting out the back-off.
public struct SyncRequest: ControlRequest {
    public static let method = "sync"

    public var site: String?

    public init(site: String?) { self.site = site }

    public struct Response: Codable, Sendable, Equatable {
        /// Peers that will be dialled now.
        public var dialing: [String]
        public init(dialing: [String]) { self.dialing = dialing }
    }
}
