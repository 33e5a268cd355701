// The `llmkit` tool package's entry point: the command line lives in LlmKit.ModelBuilder (so `dotnet run --project
// src/Sdk/LlmKit.ModelBuilder` and the library share it); this project only packs it as a .NET tool.
return LlmKit.ModelBuilder.Program.Main(args);
