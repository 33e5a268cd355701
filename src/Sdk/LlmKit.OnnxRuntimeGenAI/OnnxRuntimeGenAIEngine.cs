using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.OnnxRuntimeGenAI.Interop;
using LlmKit.Tokenization;
using Microsoft.ML.OnnxRuntimeGenAI;
using Generator = Microsoft.ML.OnnxRuntimeGenAI.Generator;

namespace LlmKit.OnnxRuntimeGenAI;

/// <summary>
/// An ONNX GenAI model folder run by onnxruntime-genai (<c>Microsoft.ML.OnnxRuntimeGenAI</c>, or its <c>.Cuda</c> /
/// <c>.DirectML</c> builds): an <see cref="IGenerationEngine"/>, so LlmKit's <see cref="Chat.OnnxChatClient"/>,
/// <see cref="Chat.OnnxGenAIChatCompletionService"/> and plugins run on it unchanged.
/// </summary>
/// <remarks>
/// <para>onnxruntime-genai runs the graph and picks the tokens (greedy or sampled, <c>top_k</c>, <c>top_p</c>,
/// <c>temperature</c>, <c>repetition_penalty</c>, <c>no_repeat_ngram_size</c>, <c>min_length</c>, seed), on the device its
/// providers name. LlmKit does the rest: the tokenizer (<see cref="ModelTokenizer"/>, so ids match LlmKit's own engine and
/// the token scorer), chat templates, stop sequences (matched across token boundaries) and detokenization.
/// <see cref="GenerationOptions.MinP"/>, <see cref="GenerationOptions.FrequencyPenalty"/> and
/// <see cref="GenerationOptions.PresencePenalty"/> have no onnxruntime-genai counterpart and throw
/// <see cref="NotSupportedException"/>. Prompt KV caches are not reused across requests (the usage reports 0 cached tokens).</para>
/// <para><see cref="GenerationOptions.Constraint"/>: <see cref="Generation.Constraints.OutputConstraint.Regex"/>,
/// <see cref="Generation.Constraints.OutputConstraint.Choice"/> and <see cref="Generation.Constraints.OutputConstraint.Literal"/>
/// run on onnxruntime-genai's guidance backend (llguidance, <c>GeneratorParams.SetGuidance</c>) as the same language; it
/// needs <c>tokenizer.json</c> in the folder. Unlike LlmKit's own engine, llguidance allows only the canonical tokenization
/// where the constraint forces the next text, and does not steer to a completion when <see cref="GenerationOptions.MaxNewTokens"/>
/// runs short (the output can then be cut off incomplete). Other constraints (JSON, composites, tools), and a constraint
/// with a minimum length (<see cref="GenerationOptions.MinNewTokens"/> or the folder's <c>search.min_length</c>), throw
/// <see cref="NotSupportedException"/>; a step onnxruntime-genai's guidance backend fails on throws
/// <see cref="InvalidOperationException"/> naming the constraint.</para>
/// <para>Thread-safe: every generation or scoring call creates its own onnxruntime-genai <see cref="Generator"/> over the
/// shared <see cref="Model"/>, which onnxruntime-genai allows. Dispose the engine when no call is running.</para>
/// </remarks>
public sealed class OnnxRuntimeGenAIEngine : IGenerationEngine, IDisposable
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    private readonly Config _config;
    private readonly HashSet<string> _adapterNames = new(StringComparer.Ordinal); // guarded by itself
    private Adapters? _adapters;
    private int _disposed;

    private OnnxRuntimeGenAIEngine(string folder, GenAIConfig config, Config nativeConfig, Model model, ModelTokenizer tokenizer, int maxLength, string modelId, TimeSpan loadTime)
    {
        Folder = folder;
        Config = config;
        _config = nativeConfig;
        NativeModel = model;
        Tokenizer = tokenizer;
        MaxLength = maxLength;
        ModelId = modelId;
        LoadTime = loadTime;
    }

    /// <summary>The model folder.</summary>
    public string Folder { get; }

    /// <inheritdoc />
    public string ModelId { get; }

    /// <summary>The folder's <c>genai_config.json</c> as read by LlmKit (for ids and defaults; onnxruntime-genai reads and checks it itself).</summary>
    public GenAIConfig Config { get; }

    /// <inheritdoc />
    public string ModelType => Config.Model.Type;

    /// <inheritdoc />
    public ModelTokenizer Tokenizer { get; }

    /// <inheritdoc />
    public int MaxLength { get; }

    /// <summary>Vocabulary size (length of a logits row).</summary>
    public int VocabularySize => Config.Model.VocabSize;

    /// <summary>How long <see cref="Load"/> took.</summary>
    public TimeSpan LoadTime { get; }

    /// <summary>
    /// Loads a LoRA adapter (<c>.onnx_adapter</c>, e.g. from <c>llmkit adapter</c>) with onnxruntime-genai's
    /// <c>Adapters.LoadAdapter</c>; requests activate it by name (<see cref="GenerationOptions.Adapter"/>), which sets it
    /// active on their generator. Safe to call while other requests run.
    /// </summary>
    /// <param name="name">The name requests use; unique per engine.</param>
    /// <param name="path">The adapter file.</param>
    /// <exception cref="ArgumentException">The name is empty or already loaded.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">onnxruntime-genai rejects the file (its message is included).</exception>
    public void LoadAdapter(string name, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The adapter file '{path}' does not exist.", path);
        }

        lock (_adapterNames)
        {
            if (_adapterNames.Contains(name))
            {
                throw new ArgumentException($"An adapter named '{name}' is already loaded.", nameof(name));
            }

            try
            {
                _adapters ??= new Adapters(NativeModel);
                _adapters.LoadAdapter(path, name);
            }
            catch (OnnxRuntimeGenAIException ex)
            {
                throw new InvalidDataException($"onnxruntime-genai could not load adapter '{name}' from '{path}': {ex.Message}", ex);
            }

            _adapterNames.Add(name);
        }
    }

    /// <summary>The names of the loaded adapters.</summary>
    public IReadOnlyList<string> AdapterNames
    {
        get
        {
            lock (_adapterNames)
            {
                return [.. _adapterNames.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Activates a request's adapter on its generator (no adapter: the base model).</summary>
    internal void Activate(Generator generator, GenerationOptions resolved)
    {
        if (resolved.Adapter is { } name)
        {
            generator.SetActiveAdapter(_adapters!, name); // ResolveOptions checked it is loaded
        }
    }

    /// <summary>The onnxruntime-genai model, for calls LlmKit does not wrap. Do not dispose it; the engine owns it.</summary>
    public Model NativeModel { get; }

    /// <summary>Loads a model folder with onnxruntime-genai.</summary>
    /// <param name="folder">An ONNX GenAI model folder with <c>genai_config.json</c>, the ONNX files and a tokenizer LlmKit reads (<c>tokenizer.json</c> or <c>tokenizer.model</c>).</param>
    /// <param name="options">Threads, providers and length; null for the folder's settings.</param>
    /// <exception cref="ModelFolderException">The folder, its <c>genai_config.json</c> or its tokenizer is missing or unreadable, or onnxruntime-genai rejects the folder (the message carries its error).</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public static OnnxRuntimeGenAIEngine Load(string folder, OnnxRuntimeGenAIEngineOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        options ??= new OnnxRuntimeGenAIEngineOptions();
        if (options.IntraOpThreads is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.IntraOpThreads, "IntraOpThreads must be >= 1 (or null).");
        }

        if (options.MaxLength is < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxLength, "MaxLength must be >= 2 (or null).");
        }

        var clock = Stopwatch.StartNew();
        string root = Path.GetFullPath(folder);
        if (!Directory.Exists(root))
        {
            throw new ModelFolderException($"The model folder '{root}' does not exist.") { FilePath = root };
        }

        var config = ReadConfig(Path.Combine(root, GenAIConfigReader.FileName));
        var tokenizer = ModelTokenizer.Load(root, config);
        var search = config.Search;
        int maxLength = options.MaxLength ?? (search.MaxLength > 0 ? search.MaxLength : config.Model.ContextLength);
        if (config.Model.ContextLength > 0)
        {
            maxLength = Math.Min(maxLength, config.Model.ContextLength);
        }

        if (maxLength < 2)
        {
            throw new ModelFolderException(
                $"{GenAIConfigReader.FileName}: neither search.max_length nor model.context_length gives a usable max length (got {maxLength}); set MaxLength.")
            { FilePath = Path.Combine(root, GenAIConfigReader.FileName) };
        }

        if (config.Model.VocabSize <= 0)
        {
            throw new ModelFolderException($"{GenAIConfigReader.FileName}: $.model.vocab_size must be > 0 (was {config.Model.VocabSize}).")
            { FilePath = Path.Combine(root, GenAIConfigReader.FileName) };
        }

        Config? nativeConfig = null;
        Model? model = null;
        try
        {
            nativeConfig = new Config(root);
            if (options.IntraOpThreads is { } threads)
            {
                nativeConfig.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" +
                    threads.ToString(CultureInfo.InvariantCulture) + "}}}}");
            }

            if (options.ExecutionProviders is { } providers)
            {
                nativeConfig.ClearProviders();
                foreach (string provider in providers)
                {
                    if (string.IsNullOrWhiteSpace(provider))
                    {
                        throw new ArgumentException("ExecutionProviders must not hold an empty name.", nameof(options));
                    }

                    if (!string.Equals(provider, "cpu", StringComparison.OrdinalIgnoreCase))
                    {
                        nativeConfig.AppendProvider(provider);
                    }
                }
            }

            model = new Model(nativeConfig);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            model?.Dispose();
            nativeConfig?.Dispose();
            throw new ModelFolderException($"onnxruntime-genai cannot load the model folder '{root}': {ex.Message}", ex) { FilePath = root };
        }
        catch
        {
            model?.Dispose();
            nativeConfig?.Dispose();
            throw;
        }

        string modelId = string.IsNullOrWhiteSpace(options.ModelId) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(root)) : options.ModelId;
        return new OnnxRuntimeGenAIEngine(root, config, nativeConfig, model, tokenizer, maxLength, modelId, clock.Elapsed);
    }

    /// <summary>
    /// The folder's <c>search</c> defaults overlaid with <paramref name="options"/>, as LlmKit's own engine resolves them
    /// (<see cref="OnnxGenAIModel.ResolveOptions"/>): the settings a generation really uses.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="NotSupportedException">A setting onnxruntime-genai cannot honour is set; the message names it.</exception>
    public GenerationOptions ResolveOptions(GenerationOptions? options)
    {
        options ??= new GenerationOptions();
        options.Validate();
        Unsupported(options.MinP, "MinP (min_p)");
        Unsupported(options.FrequencyPenalty, "FrequencyPenalty (frequency_penalty)");
        Unsupported(options.PresencePenalty, "PresencePenalty (presence_penalty)");
        if (options.Adapter is { } adapter)
        {
            lock (_adapterNames)
            {
                if (!_adapterNames.Contains(adapter))
                {
                    string loaded = _adapterNames.Count == 0 ? "none" : string.Join(", ", _adapterNames.Order(StringComparer.Ordinal));
                    throw new ArgumentException($"adapter '{adapter}' is not loaded in model '{ModelId}' (loaded: {loaded}); call OnnxRuntimeGenAIEngine.LoadAdapter first.", nameof(options));
                }
            }
        }

        if (options.NumBeams is > 1)
        {
            throw new NotSupportedException($"NumBeams (num_beams) = {options.NumBeams}: LlmKit's onnxruntime-genai engine streams one sequence and does not run beam search; use LlmKit's own engine for beam search, or NumBeams = 1.");
        }

        if (options.Constraint is { } constraint && constraint.Guidance is null)
        {
            throw new NotSupportedException(
                $"Constraint ({constraint.Description}): LlmKit's onnxruntime-genai engine hands constraints to onnxruntime-genai's guidance " +
                "backend (llguidance) and supports only those it reads as the same language: OutputConstraint.Regex, Choice and Literal. " +
                "JSON (ChatOptions.ResponseFormat, SK response_format), Sequence, AnyOf, TextOr and tool calling need LlmKit's own engine (Engine: LlmKit).");
        }

        if (options.Constraint is not null && (options.MinNewTokens is > 0 || Config.Search.MinLength > 0))
        {
            // min_length masks the EOS that llguidance requires once the output is complete, and onnxruntime-genai then fails mid-generation.
            throw new NotSupportedException(
                $"Constraint ({options.Constraint.Description}) with a minimum length (GenerationOptions.MinNewTokens {options.MinNewTokens?.ToString(CultureInfo.InvariantCulture) ?? "unset"}, " +
                $"{GenAIConfigReader.FileName} search.min_length {Config.Search.MinLength}): onnxruntime-genai's guidance backend cannot hold end-of-sequence back " +
                "once the constraint is complete. Drop the minimum, or use LlmKit's own engine (Engine: LlmKit).");
        }

        return options.WithDefaultsFrom(Config.Search);
    }

    /// <inheritdoc />
    /// <remarks>The work runs on the thread pool; cancellation is checked before every token.</remarks>
    public Task<GenerationResult> GenerateAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        // Validate synchronously so bad arguments throw at the call.
        var run = StartRun(promptTokens, options);
        return Task.Run(() =>
        {
            using (run)
            {
                var text = new StringBuilder();
                while (!run.IsDone)
                {
                    text.Append(run.Step(cancellationToken, out _));
                }

                return new GenerationResult(text.ToString(), run.GeneratedTokens.ToArray(), run.PromptLength, run.FinishReason!.Value, run.TimeToFirstToken, run.Elapsed);
            }

            // No token for Task.Run itself: the delegate must run to dispose the native generator.
        }, CancellationToken.None);
    }

    /// <inheritdoc />
    /// <remarks>The prefill and first token run on the thread pool; each later step runs on the thread that awaits the next item.
    /// Cancellation is checked before every token; abandoning the enumeration disposes the native generator.</remarks>
    public IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(int[] promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var run = StartRun(promptTokens, options);
        return Stream(run, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _adapters?.Dispose();
        NativeModel.Dispose();
        _config.Dispose();
    }

    /// <summary>Hands a resolved constraint (one <see cref="ResolveOptions"/> accepted) to onnxruntime-genai's guidance backend.</summary>
    /// <exception cref="NotSupportedException">onnxruntime-genai rejects it (its message is included).</exception>
    internal static void ApplyConstraint(GeneratorParams parameters, GenerationOptions resolved)
    {
        if (resolved.Constraint?.Guidance is not { } guidance)
        {
            return;
        }

        try
        {
            parameters.SetGuidance(guidance.Type, guidance.Data);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            throw new NotSupportedException($"Constraint ({resolved.Constraint.Description}): onnxruntime-genai's guidance backend rejected it: {ex.Message}", ex);
        }
    }

    /// <summary>Sets a generator's search options from resolved settings; <paramref name="maxLength"/> counts the prompt.</summary>
    internal void ApplySearchOptions(GeneratorParams parameters, GenerationOptions resolved, int promptLength, int maxLength)
    {
        parameters.SetSearchOption("max_length", maxLength);
        if (resolved.MinNewTokens is { } minNew)
        {
            // onnxruntime-genai's min_length counts the prompt; without a request value the folder's own applies.
            parameters.SetSearchOption("min_length", Math.Min(maxLength, promptLength + minNew));
        }

        if (Config.Search.NumBeams > 1)
        {
            throw new NotSupportedException(
                $"{GenAIConfigReader.FileName}: search.num_beams is {Config.Search.NumBeams} in '{Folder}'; LlmKit's onnxruntime-genai engine streams one sequence and does not run beam search yet. Set num_beams to 1.");
        }

        float temperature = resolved.Temperature ?? 0f;
        bool sample = temperature > 0f;
        parameters.SetSearchOption("do_sample", sample);
        if (sample)
        {
            parameters.SetSearchOption("temperature", temperature);
            int topK = resolved.TopK ?? 0;
            parameters.SetSearchOption("top_k", topK <= 0 ? VocabularySize : Math.Min(topK, VocabularySize));
            parameters.SetSearchOption("top_p", resolved.TopP ?? 1f);
        }

        if (resolved.RepetitionPenalty is { } penalty)
        {
            parameters.SetSearchOption("repetition_penalty", penalty);
        }

        if (resolved.NoRepeatNGramSize is { } ngram)
        {
            parameters.SetSearchOption("no_repeat_ngram_size", ngram);
        }

        if (resolved.Seed is { } seed)
        {
            // onnxruntime-genai takes a non-negative 32-bit seed: keep the low 31 bits.
            parameters.SetSearchOption("random_seed", seed & int.MaxValue);
        }
    }

    /// <summary>Checks that every id of a token sequence is inside the vocabulary.</summary>
    internal void ValidateTokens(ReadOnlySpan<int> tokens, string parameterName)
    {
        foreach (int id in tokens)
        {
            if ((uint)id >= (uint)VocabularySize)
            {
                throw new ArgumentException($"Token id {id} is outside the vocabulary [0, {VocabularySize}).", parameterName);
            }
        }
    }

    /// <summary>Logits of the last position a generator processed, for the token scorer.</summary>
    internal void CopyLastLogits(Generator generator, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        OgaNative.CopyLastLogits(generator, destination);
    }

    private OgaGenerationRun StartRun(int[] promptTokens, GenerationOptions? options)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(promptTokens);
        if (promptTokens.Length == 0)
        {
            throw new ArgumentException("The prompt must have at least one token.", nameof(promptTokens));
        }

        if (promptTokens.Length >= MaxLength)
        {
            throw new ArgumentException(
                $"The prompt has {promptTokens.Length} tokens but the model's max length is {MaxLength}: leave room for at least one new token.",
                nameof(promptTokens));
        }

        ValidateTokens(promptTokens, nameof(promptTokens));
        return new OgaGenerationRun(this, promptTokens, ResolveOptions(options));
    }

    private static async IAsyncEnumerable<GenerationUpdate> Stream(OgaGenerationRun run, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using (run)
        {
            // Prefill is the long step: keep it off the caller's thread.
            int first = 0;
            string text = await Task.Run(() => run.Step(cancellationToken, out first), cancellationToken).ConfigureAwait(false);
            yield return new GenerationUpdate(text, first, run.PromptLength, run.GeneratedTokens.Count, run.FinishReason);
            while (!run.IsDone)
            {
                text = run.Step(cancellationToken, out int token);
                yield return new GenerationUpdate(text, token, run.PromptLength, run.GeneratedTokens.Count, run.FinishReason);
            }
        }
    }

    private static void Unsupported<T>(T? value, string name)
        where T : struct
    {
        if (value is not null)
        {
            throw new NotSupportedException(
                $"GenerationOptions.{name} is set, but onnxruntime-genai has no such search option; LlmKit's onnxruntime-genai engine cannot honour it. Leave it unset, or use LlmKit's own engine (Engine: LlmKit).");
        }
    }

    // genai_config.json as LlmKit's schema reads it, without LlmKit's own-engine checks (head counts, graph layout):
    // onnxruntime-genai validates the folder for what it runs.
    private static GenAIConfig ReadConfig(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFolderException($"The model folder has no {GenAIConfigReader.FileName}: '{path}' does not exist.") { FilePath = path };
        }

        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<GenAIConfig>(stream, JsonOptions)
                ?? throw new ModelFolderException($"{GenAIConfigReader.FileName} is empty ('{path}').") { FilePath = path };
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"{GenAIConfigReader.FileName} is malformed at {ex.Path ?? "$"} (line {ex.LineNumber + 1}): {ex.Message}", ex) { FilePath = path };
        }
    }
}
