/// `newsctl deletes [--confirm]`: the mass deletes held back for an operator.
public struct DeletesRequest: ControlRequest {
    public static let method = "deletes"

    public enum Action: String, Codable, Sendable {
        /// Only list what is held.
        case list
        /// Record the held deletes of files that are still gone.
        case confirm
    }

    public var action: Action

    public init(action: Action) { self.action = action }

    public struct Response: Codable, Sendable, Equatable {
        public var pending: [String]
        public var reason: String?
        /// How many deletes this request recorded in the log.
        public var recorded: Int

        public init(pending: [String], reason: String?, recorded: Int) {
            self.pending = pending
            self.reason = reason
            self.recorded = recorded
        }
    }
}
