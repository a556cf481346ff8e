import ArgumentParser

@main
struct SigilCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil",
        abstract: "Operate Sigil: workload identity and access without long-lived secrets.",
        subcommands: [
            DevCommand.self, ApplyCommand.self, GetCommand.self, DeleteCommand.self, DemoCommand.self,
            AuditCommand.self,
            ProjectionsCommand.self, EdgeCommand.self, KeysCommand.self, DeployCommand.self, ProbeCommand.self,
            TokenCommand.self, PolicyCommand.self, TenantCommand.self, LeaseCommand.self,
        ]
    )
}
