using LlmKit.Chat;
using LlmKit.Generation;
using LlmKit.Hosting;
using LlmKit.Models;
using LlmKit.Scoring;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.OnnxRuntimeGenAI.Tests;

/// <summary>
/// The engine through AddLlmKit configuration (Engine: OnnxRuntimeGenAI) with a real container and host, and the error
/// when the configuration asks for it but UseOnnxRuntimeGenAI() was not called.
/// </summary>
public sealed class RegistrationTests
{
    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static IConfiguration OgaSection(string folder, string engine = "OnnxRuntimeGenAI") => Configuration(
        ("LlmKit:ModelPath", folder), ("LlmKit:Engine", engine), ("LlmKit:IntraOpThreads", "1"),
        ("LlmKit:Generation:Temperature", "0"), ("LlmKit:Generation:MaxNewTokens", "40")).GetSection("LlmKit");

    [Fact]
    public async Task Engine_OnnxRuntimeGenAI_in_configuration_serves_every_LlmKit_service()
    {
        var services = new ServiceCollection().AddLlmKit(OgaSection(TestModels.Stories260KFolder)).UseOnnxRuntimeGenAI();
        OnnxRuntimeGenAIEngine engine;
        await using (var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }))
        {
            engine = Assert.IsType<OnnxRuntimeGenAIEngine>(provider.GetRequiredService<IGenerationEngine>());
            var client = provider.GetRequiredService<IChatClient>();
            Assert.Same(engine, Assert.IsType<OnnxChatClient>(client).GenerationEngine);
            Assert.Same(provider.GetRequiredService<IChatCompletionService>(), provider.GetRequiredService<ITextGenerationService>());
            Assert.IsType<OnnxRuntimeGenAITokenScorer>(provider.GetRequiredService<ITokenScorer>());
            Assert.Same(engine.Tokenizer.Inner, provider.GetRequiredService<Tokenizer>());

            // LlmKit's own model is not loaded for this registration, and asking for it says why.
            var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<OnnxGenAIModel>());
            Assert.Contains("Engine is 'OnnxRuntimeGenAI'", error.Message, StringComparison.Ordinal);

            // Configured defaults (greedy, 40 tokens) apply; the kernel's service gives what LlmKit's own engine gives.
            var kernel = provider.GetRequiredService<Kernel>();
            string? text = (await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt)).GetValue<string>();
            var expected = await LoadedModels.Stories260K.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 40 });
            Assert.Equal(expected.Text, text);
            Assert.Equal(expected.Text, (await client.GetResponseAsync(LoadedModels.ReferencePrompt)).Text);
        }

        // The container created the engine, so disposing the container disposed it.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => engine.GenerateAsync([1, 2], null));
    }

    [Fact]
    public async Task The_official_folders_run_through_configuration_and_give_the_reference_ids()
    {
        var services = new ServiceCollection()
            .AddKeyedLlmKit("gpt2", OgaSection(OgaModels.Gpt2Folder))
            .AddKeyedLlmKit("llama", OgaSection(OgaModels.LlamaFp16Folder))
            .UseOnnxRuntimeGenAI()
            .UseOnnxRuntimeGenAI(); // twice is harmless
        await using var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetServices<ILlmKitEngineProvider>());

        var gpt2 = provider.GetRequiredKeyedService<IGenerationEngine>("gpt2");
        var llama = provider.GetRequiredKeyedService<IGenerationEngine>("llama");
        var a = await gpt2.GenerateAsync([0, 0, 195, 731], new GenerationOptions { Temperature = 0, MaxNewTokens = 6 });
        var b = await llama.GenerateAsync([1, 15043, 3186], new GenerationOptions { Temperature = 0, MaxNewTokens = 5 });
        Assert.Equal([731, 114, 114, 114, 114, 114], a.TokenIds);
        Assert.Equal([30016, 7356, 9023, 25068, 22665], b.TokenIds);
        Assert.Equal("gpt2", gpt2.ModelType);
        Assert.Equal("llama", llama.ModelType);
        Assert.IsType<OnnxRuntimeGenAITokenScorer>(provider.GetRequiredKeyedService<ITokenScorer>("llama"));
    }

    [Fact]
    public async Task Without_Engine_the_registration_keeps_LlmKits_own_engine()
    {
        var config = Configuration(("LlmKit:ModelPath", TestModels.Stories260KFolder), ("LlmKit:IntraOpThreads", "1")).GetSection("LlmKit");
        await using var provider = new ServiceCollection().AddLlmKit(config).UseOnnxRuntimeGenAI().BuildServiceProvider();
        Assert.Same(provider.GetRequiredService<OnnxGenAIModel>(), provider.GetRequiredService<IGenerationEngine>());
        Assert.IsType<OnnxTokenScorer>(provider.GetRequiredService<ITokenScorer>());
    }

    [Fact]
    public async Task Engine_OnnxRuntimeGenAI_without_UseOnnxRuntimeGenAI_fails_on_start_naming_the_package()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLlmKit(OgaSection(TestModels.Stories260KFolder));
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("LlmKit:Engine is 'OnnxRuntimeGenAI'", error.Message, StringComparison.Ordinal);
        Assert.Contains("LlmKit.OnnxRuntimeGenAI", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseOnnxRuntimeGenAI()", error.Message, StringComparison.Ordinal);

        // Without a host (no start-up validation), resolving a service gives the same explanation.
        await using var provider = new ServiceCollection().AddLlmKit(OgaSection(TestModels.Stories260KFolder)).BuildServiceProvider();
        var resolveError = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IChatClient>());
        Assert.Contains("LlmKit.OnnxRuntimeGenAI", resolveError.Message, StringComparison.Ordinal);
        Assert.Contains("UseOnnxRuntimeGenAI()", resolveError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_engine_name_lists_the_registered_engines()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddKeyedLlmKit("m", OgaSection(TestModels.Stories260KFolder, engine: "Vulkan")).UseOnnxRuntimeGenAI();
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("LlmKit[m]:Engine is 'Vulkan'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Registered engines: LlmKit, OnnxRuntimeGenAI", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kernel_builder_registration_uses_the_engine()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddLlmKit(OgaSection(OgaModels.Gpt2Folder)).UseOnnxRuntimeGenAI();
        var kernel = builder.Build();
        var service = kernel.GetRequiredService<IChatCompletionService>();
        Assert.IsType<OnnxRuntimeGenAIEngine>(kernel.GetRequiredService<IGenerationEngine>());
        Assert.Equal("tiny-random-gpt2-fp32", service.Attributes[Microsoft.SemanticKernel.Services.AIServiceExtensions.ModelIdKey]);
        ((IDisposable)kernel.Services).Dispose();
    }
}
