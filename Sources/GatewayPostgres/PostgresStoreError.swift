import PostgresNIO

/// A failure of the PostgreSQL store, with the server's message when there is one.
///
/// PostgresNIO keeps server messages out of its errors' descriptions so that they do not leak by
/// accident; the store puts them back (message, SQLSTATE, detail), because an operator needs to
/// read why a migration or a connection failed. Query parameters are never included.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The SQLSTATE code when the server refused a statement (e.g. `40001`).
    public var sqlState: String?

    public init(_ message: String, sqlState: String? = nil) {
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }

    /// SQLSTATE codes after which the whole transaction may simply run again: serialization
    /// failure and deadlock.
    static let retryableStates: Set<String> = ["40001", "40P01"]

    static func isRetryable(_ error: any Error) -> Bool {
        if isStalePreparedStatement(error) { return true }
        if let error = error as? PostgresStoreError { return error.sqlState.map(retryableStates.contains) ?? false }
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState].map(retryableStates.contains) ?? false }
        return false
    }

    /// Whether `error` says the connection's prepared statements cannot be used as they are: a
    /// cached plan whose result columns changed (another gateway migrated the schema) or a
    /// statement the server does not know (a connection pooler in front of it handed the session
    /// another server connection). The connection is dropped and the transaction runs again on
    /// a new one, which prepares afresh.
    static func isStalePreparedStatement(_ error: any Error) -> Bool {
        let error = wrap(error)
        switch error.sqlState {
        case "26000": return true
        case "0A000": return error.message.contains("cached plan must not change result type")
        default: return false
        }
    }

    private static func serverError(message: String?, detail: String?, sqlState: String?) -> PostgresStoreError {
        var text = message ?? "the server refused the statement"
        if let detail { text += " (\(detail))" }
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        return PostgresStoreError(text, sqlState: sqlState)
    }

    /// The error in the store's form, with the server's explanation.
    static func wrap(_ error: any Error) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        guard let error = error as? PSQLError else { return PostgresStoreError("\(error)") }
        if let info = error.serverInfo {
            return serverError(message: info[.message], detail: info[.detail], sqlState: info[.sqlState])
        }
        if error.code == .authMechanismRequiresPassword {
            return PostgresStoreError("the server asks for a password and none was given (set \(PostgresPassword.environmentVariable) or add a line to the PGPASSFILE)")
        }
        if let underlying = error.underlying { return PostgresStoreError("\(error.code): \(underlying)") }
        return PostgresStoreError("\(error.code)")
    }
}
