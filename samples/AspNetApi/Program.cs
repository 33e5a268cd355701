// LlmKit as an OpenAI-compatible server. Configure with appsettings.json, environment variables
// (LlmKit__ModelPath=/models/phi3) or the command line (--LlmKit:ModelPath /models/phi3 --urls http://0.0.0.0:8080).
using LlmKit.Samples.AspNetApi;

WebApplication app;
try
{
    app = AspNetApiApp.Build(args);
    await app.StartAsync();
}
catch (Exception ex)
{
    // A bad setting, model folder or address: one line naming it and exit code 1, not an abort with a stack trace.
    Console.Error.WriteLine($"AspNetApi could not start: {StartupFailure.Describe(ex)}");
    return 1;
}

await using (app)
{
    await app.WaitForShutdownAsync();
}

return 0;
