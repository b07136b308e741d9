/// The reading of one inbound reply: the command, its comment, the extracted reply text and, when
/// there is no command, why.
public struct ReplyDecision: Sendable, Hashable {
    /// `approve`, `deny` or `none`.
    public let command: ReplyCommand
    /// The comment for `approve`/`deny` (may be empty); nil for `none`.
    public let comment: String?
    /// The reply text the grammar was applied to (the body above the quote); empty when the message
    /// is automated or has no body.
    public let replyText: String
    /// Why the command is `none`; nil when there is a command.
    public let noCommandReason: NoCommandReason?
    /// An approval for less time than asked: the duration right after the command word
    /// (`approve 1h`, `approve for 2 hours`), in seconds; nil when none is given.
    public let grantSeconds: Int?

    /// Creates a decision.
    public init(command: ReplyCommand, comment: String?, replyText: String, noCommandReason: NoCommandReason?, grantSeconds: Int? = nil) {
        self.command = command
        self.comment = comment
        self.replyText = replyText
        self.noCommandReason = noCommandReason
        self.grantSeconds = grantSeconds
    }

    /// Reads a parsed message: automated mail is `none`; otherwise the body (text/plain, else HTML
    /// converted to text) is cut to the reply text and the command grammar applied.
    public init(message: MailMessage) {
        if let reason = AutomatedMail.classify(message) {
            self.init(command: .none, comment: nil, replyText: "", noCommandReason: .automated(reason))
            return
        }
        guard let body = message.bodyText() else {
            self.init(command: .none, comment: nil, replyText: "", noCommandReason: .noBody)
            return
        }
        self.init(bodyText: body.plainUTF8())
    }

    /// Reads plain body text (not checked for automation).
    public init(bodyText: String) {
        self.init(bodyText: Array(bodyText.utf8))
    }

    init(bodyText: [UInt8]) {
        let reply = ReplyExtractor.extract(utf8: bodyText)
        let replyString = String(decoding: reply, as: UTF8.self)
        if ReplyText.isBlank(reply[...]) {
            self.init(command: .none, comment: nil, replyText: replyString, noCommandReason: .noReplyText)
            return
        }
        let reading = CommandGrammar.read(utf8: reply)
        self.init(command: reading.command, comment: reading.comment, replyText: replyString, noCommandReason: reading.reason, grantSeconds: reading.grantSeconds)
    }
}
