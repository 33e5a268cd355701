using LlmKit.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace LlmKit.AspNetApi.Tests;

/// <summary>The in-process <see cref="IChatClient"/> registered by AddLlmKit with the same settings as the app.</summary>
internal static class InProcess
{
    private static readonly Lazy<ServiceProvider> Provider = new(() =>
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(RunningApp.ModelSettings).Build();
        return new ServiceCollection().AddLogging().AddLlmKit(configuration.GetSection(LlmKitOptions.SectionName)).BuildServiceProvider();
    });

    public static IChatClient ChatClient => Provider.Value.GetRequiredService<IChatClient>();
}
