import NIOCore
import ServiceLifecycle

/// Serves every connection `server` accepts in a task of its own until the server closes; a
/// graceful shutdown closes it. One slow or failing connection never holds up the others.
func serveConnections<Connection: Sendable>(
    of server: NIOAsyncChannel<Connection, Never>, _ serve: @escaping @Sendable (Connection) async -> Void
) async throws {
    try await withGracefulShutdownHandler {
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await serve(connection) }
                }
            }
        }
    } onGracefulShutdown: {
        server.channel.close(promise: nil)
    }
}
