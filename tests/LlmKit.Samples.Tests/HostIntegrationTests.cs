using LlmKit.Hosting;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;

namespace LlmKit.Samples.Tests;

/// <summary>LlmKit in a real generic host (Host.CreateApplicationBuilder), as a host app or ASP.NET app would use it.</summary>
public class HostIntegrationTests
{
    private static HostApplicationBuilder Builder(params (string Key, string? Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.Services.AddLlmKit(builder.Configuration.GetSection(LlmKitOptions.SectionName));
        return builder;
    }

    [Fact]
    public async Task A_host_resolves_the_chat_services_and_the_kernel_and_answers()
    {
        using var host = Builder(("LlmKit:ModelPath", TestModels.Stories260KFolder), ("LlmKit:Generation:Temperature", "0")).Build();
        await host.StartAsync();

        var chatService = host.Services.GetRequiredService<IChatCompletionService>();
        var chatClient = host.Services.GetRequiredService<IChatClient>();
        var kernel = host.Services.GetRequiredService<Kernel>();
        var viaKernel = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt, new KernelArguments(new LlmKit.Chat.OnnxGenAIPromptExecutionSettings { MaxTokens = 30 }));
        var viaClient = await chatClient.GetResponseAsync(LoadedModels.ReferencePrompt, new ChatOptions { MaxOutputTokens = 30 });

        Assert.NotNull(chatService);
        Assert.Equal(viaClient.Text, viaKernel.GetValue<string>());
        Assert.StartsWith(LoadedModels.ReferencePrompt + viaClient.Text, SharedFixtures.Stories260KReferenceText, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task Bad_options_fail_when_the_host_starts_before_anything_is_resolved()
    {
        using var host = Builder(("LlmKit:ModelPath", "/nonexistent/llmkit-model"), ("LlmKit:IntraOpThreads", "0")).Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("LlmKit:ModelPath '/nonexistent/llmkit-model' does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("LlmKit:IntraOpThreads must be >= 1", ex.Message, StringComparison.Ordinal);
    }
}
