// LlmKit as an OpenAI-compatible server. Configure with appsettings.json, environment variables
// (LlmKit__ModelPath=/models/phi3) or the command line (--LlmKit:ModelPath /models/phi3 --urls http://0.0.0.0:8080).
using LlmKit.Samples.AspNetApi;

await using var app = AspNetApiApp.Build(args);
await app.RunAsync();
