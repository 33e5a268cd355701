using LlmKit.Chat;
using LlmKit.Chat.Templates;
using LlmKit.Hosting;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Scoring;
using LlmKit.Testing;
using LlmKit.Tests.Chat;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.TextGeneration;

namespace LlmKit.Tests.Hosting;

/// <summary>DI registration with a real ServiceCollection, real configuration binding and the real stories260K folder.</summary>
public class LlmKitServiceCollectionTests
{
    private static string Folder => TestModels.Stories260KFolder;

    private static int ReferenceNewTokens => LoadedModels.ReferenceSteps - LoadedModels.Stories260K.Tokenizer.Encode(LoadedModels.ReferencePrompt).Length;

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public async Task AddLlmKit_from_configuration_resolves_every_service_and_the_kernel_reproduces_the_reference()
    {
        var config = Configuration(("LlmKit:ModelPath", Folder), ("LlmKit:ModelId", "stories"), ("LlmKit:IntraOpThreads", "1"),
            ("LlmKit:Generation:Temperature", "0"), ("LlmKit:Generation:MaxNewTokens", ReferenceNewTokens.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var services = new ServiceCollection().AddLlmKit(config.GetSection("LlmKit"));

        OnnxGenAIModel model;
        await using (var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }))
        {
            model = provider.GetRequiredService<OnnxGenAIModel>();
            var chatClient = provider.GetRequiredService<IChatClient>();
            var chatService = provider.GetRequiredService<IChatCompletionService>();
            Assert.Same(provider.GetRequiredService<OnnxChatClient>(), chatClient);
            Assert.Same(chatService, provider.GetRequiredService<ITextGenerationService>());
            Assert.Same(model.Tokenizer.Inner, provider.GetRequiredService<Tokenizer>());
            Assert.Equal(model.MaxLength, provider.GetRequiredService<ITokenScorer>().MaxSequenceLength);
            Assert.True(model.ReusesPromptPrefixes); // the default
            Assert.Equal("stories", chatClient.GetService<ChatClientMetadata>()!.DefaultModelId);

            // Defaults from configuration (greedy, reference length) apply to a request that sets nothing.
            var kernel = provider.GetRequiredService<Kernel>();
            var result = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt);
            Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + result.GetValue<string>(), StringComparison.Ordinal);

            var response = await chatClient.GetResponseAsync(LoadedModels.ReferencePrompt);
            Assert.Equal(result.GetValue<string>(), response.Text);
        }

        // The container created the model, so disposing the container disposed it.
        Assert.Throws<ObjectDisposedException>(() => model.CreateGenerator([1]));
    }

    [Fact]
    public void Generation_defaults_and_template_bind_from_configuration()
    {
        var config = Configuration(("LlmKit:ModelPath", Folder), ("LlmKit:ChatTemplate", "Llama2"), ("LlmKit:ExecutionProvider", "cpu"),
            ("LlmKit:Generation:TopP", "0.9"), ("LlmKit:Generation:Seed", "17"), ("LlmKit:Generation:StopSequences:0", "\n\n"), ("LlmKit:Generation:StopSequences:1", "The end"));
        using var provider = new ServiceCollection().AddLlmKit(config.GetSection("LlmKit")).BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<LlmKitOptions>>().Value;
        Assert.Equal(ChatTemplateKind.Llama2, options.ChatTemplate);
        Assert.Equal(0.9f, options.Generation.TopP);
        Assert.Equal(17, options.Generation.Seed);
        Assert.Equal(["\n\n", "The end"], options.Generation.StopSequences!);
        Assert.Equal(ChatTemplateKind.Llama2, provider.GetRequiredService<OnnxChatClient>().Template.Kind);
    }

    [Theory]
    [InlineData(null, null, "LlmKit:ModelPath is required")]
    [InlineData("/nonexistent/llmkit-model", null, "does not exist")]
    [InlineData("<folder>", "3", "LlmKit:Generation:TopP")]
    public void Bad_options_fail_on_first_use_with_a_message_naming_the_setting(string? modelPath, string? topP, string expected)
    {
        var config = Configuration(("LlmKit:ModelPath", modelPath == "<folder>" ? Folder : modelPath), ("LlmKit:Generation:TopP", topP));
        using var provider = new ServiceCollection().AddLlmKit(config.GetSection("LlmKit")).BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IChatClient>());
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_genai_config_is_rejected_by_name()
    {
        string empty = Directory.CreateTempSubdirectory("llmkit-empty-").FullName;
        try
        {
            using var provider = new ServiceCollection().AddLlmKit(o => o.ModelPath = empty).BuildServiceProvider();
            var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<OnnxGenAIModel>());
            Assert.Contains("genai_config.json", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public async Task Keyed_registrations_hold_several_models_and_the_kernel_selects_them_by_service_id()
    {
        var services = new ServiceCollection()
            .AddKeyedLlmKit("tiny", o => { o.ModelPath = Folder; o.ModelId = "tiny"; o.IntraOpThreads = 1; })
            .AddKeyedLlmKit("chatty", Configuration(("ModelPath", Folder), ("ModelId", "chatty"), ("ChatTemplate", "Llama2"), ("ReusePromptPrefixes", "false")));
        await using var provider = services.BuildServiceProvider();

        var tiny = provider.GetRequiredKeyedService<IChatClient>("tiny");
        var chatty = provider.GetRequiredKeyedService<IChatClient>("chatty");
        Assert.NotSame(provider.GetRequiredKeyedService<OnnxGenAIModel>("tiny"), provider.GetRequiredKeyedService<OnnxGenAIModel>("chatty"));
        Assert.Equal("tiny", tiny.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal(ChatTemplateKind.Llama2, ((OnnxChatClient)chatty).Template.Kind);
        Assert.True(provider.GetRequiredKeyedService<OnnxGenAIModel>("tiny").ReusesPromptPrefixes);
        Assert.False(provider.GetRequiredKeyedService<OnnxGenAIModel>("chatty").ReusesPromptPrefixes);
        Assert.Null(provider.GetService<IChatClient>());

        var kernel = provider.GetRequiredService<Kernel>();
        var settings = new OnnxGenAIPromptExecutionSettings { ServiceId = "tiny", Temperature = 0, MaxTokens = 20 };
        var viaKernel = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt, new KernelArguments(settings));
        var viaClient = await tiny.GetResponseAsync(LoadedModels.ReferencePrompt, new ChatOptions { Temperature = 0, MaxOutputTokens = 20 });
        Assert.Equal(viaClient.Text, viaKernel.GetValue<string>());
    }

    [Fact]
    public async Task AddOnnxGenAIChatCompletion_on_the_kernel_builder_is_a_drop_in_for_the_SK_connector()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddOnnxGenAIChatCompletion("stories260K", Folder);
        var kernel = builder.Build();

        var result = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt,
            new KernelArguments(new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = ReferenceNewTokens }));

        Assert.StartsWith(SharedFixtures.Stories260KReferenceText, LoadedModels.ReferencePrompt + result.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("stories260K", kernel.GetRequiredService<IChatCompletionService>().Attributes["ModelId"]);
    }

    [Fact]
    public async Task AddLlmKit_on_the_kernel_builder_binds_configuration_and_leaves_the_kernel_to_the_builder()
    {
        var builder = Kernel.CreateBuilder();
        builder.AddLlmKit(Configuration(("ModelPath", Folder), ("Generation:Temperature", "0"), ("Generation:MaxNewTokens", "15")));
        Assert.DoesNotContain(builder.Services, d => d.ServiceType == typeof(Kernel));
        var kernel = builder.Build();

        var result = await kernel.InvokePromptAsync(LoadedModels.ReferencePrompt);
        var direct = await LoadedModels.Stories260K.GenerateAsync(LoadedModels.ReferencePrompt, new GenerationOptions { Temperature = 0, MaxNewTokens = 15 });
        Assert.Equal(direct.Text, result.GetValue<string>());
    }

    [Fact]
    public void AddOnnxGenAIChatCompletion_with_a_service_id_registers_keyed_services()
    {
        using var provider = new ServiceCollection().AddOnnxGenAIChatCompletion("m", Folder, serviceId: "local").BuildServiceProvider();
        Assert.NotNull(provider.GetKeyedService<IChatCompletionService>("local"));
        Assert.Null(provider.GetService<IChatCompletionService>());
        Assert.Throws<ArgumentException>(() => new ServiceCollection().AddOnnxGenAIChatCompletion("m", " "));
    }

    [Fact]
    public async Task Load_time_and_per_response_speed_are_logged()
    {
        var logs = new CapturingLoggerFactory();
        var services = new ServiceCollection().AddLlmKit(o => o.ModelPath = Folder);
        services.AddSingleton<ILoggerFactory>(logs);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        await using var provider = services.BuildServiceProvider();

        await provider.GetRequiredService<IChatClient>().GetResponseAsync("Once", new ChatOptions { MaxOutputTokens = 5, Temperature = 0 });

        var messages = logs.Entries.Select(e => e.Message).ToList();
        Assert.Contains(messages, m => m.StartsWith("Loaded model", StringComparison.Ordinal) && m.Contains(" ms", StringComparison.Ordinal));
        long kvBytes = provider.GetRequiredService<LlmKit.Models.OnnxGenAIModel>().KvCacheBytesPerSequence;
        Assert.Contains(messages, m => m.Contains($"KV cache {kvBytes} bytes per sequence", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("generated 5 tokens", StringComparison.Ordinal) && m.Contains("tok/s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_pooled_kv_cap_binds_from_configuration()
    {
        // 0 pools nothing, so a repeated prompt finds no cached prefix (with the default it reuses one).
        await using var provider = new ServiceCollection()
            .AddLlmKit(Configuration(("ModelPath", Folder), ("MaxPooledKvCacheBytes", "0")))
            .BuildServiceProvider();
        var model = provider.GetRequiredService<LlmKit.Models.OnnxGenAIModel>();
        var options = new LlmKit.Generation.GenerationOptions { Temperature = 0, MaxNewTokens = 4 };
        await model.GenerateAsync("Once upon a time", options);
        Assert.Equal(0, (await model.GenerateAsync("Once upon a time", options)).CachedPromptTokenCount);
    }
}
