using System.Diagnostics;
using LlmKit.Generation;
using LlmKit.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.Extensions.Logging;

namespace LlmKit.Models;

/// <summary>
/// A loaded ONNX GenAI model folder (<c>genai_config.json</c>, the decoder ONNX file, the tokenizer): the
/// ONNX Runtime session, the tokenizer and the folder's defaults. Create <see cref="Generator"/>s from it.
/// </summary>
/// <remarks>
/// Thread-safe: one model serves any number of concurrent generations, each with its own KV state
/// (ONNX Runtime sessions allow concurrent runs). Dispose it when no generation is running.
/// </remarks>
public sealed partial class OnnxGenAIModel : IGenerationEngine, IDisposable
{
    private const int MaxPooledStates = 8;
    private readonly List<DecoderState> _statePool = []; // oldest first; guarded by itself
    private readonly IndexTensorBuffer _ones;
    private readonly OrtValue?[] _masks;
    private readonly int _maxPooledStates;
    private readonly Dictionary<string, LoraAdapter> _adapters = new(StringComparer.Ordinal); // guarded by itself
    private bool _disposed;

    private OnnxGenAIModel(string folder, string modelPath, GenAIConfig config, ModelTokenizer tokenizer, InferenceSession session, DecoderSignature signature, int maxLength, TimeSpan loadTime, OnnxGenAIModelOptions options)
    {
        Folder = folder;
        ModelPath = modelPath;
        Config = config;
        Tokenizer = tokenizer;
        Session = session;
        Signature = signature;
        MaxLength = maxLength;
        LoadTime = loadTime;
        SlidingWindow = config.Model.Decoder.SlidingWindow?.WindowSize;

        RopeCacheSwitchLength = ReadRopeCacheSwitchLength(session);
        RotationDependsOnRunLength = RopeCacheSwitchLength is not null || signature.DynamicRope is not null;

        // A sliding window keeps only the last positions, so the cache is no prefix of the sequence: nothing to reuse.
        // When the rotation depends on the run length, a cached prefix is not what a new prompt's own prefill computes.
        ReusesPromptPrefixes = options.ReusePromptPrefixes && SlidingWindow is null && !RotationDependsOnRunLength;
        KvCapacity = Math.Min(maxLength, SlidingWindow ?? maxLength);
        ModelId = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        KvCacheBytesPerSequence = DecoderState.KvBytesPerState(signature, KvCapacity, config.Search.PastPresentShareBuffer);
        _maxPooledStates = (int)Math.Clamp(options.MaxPooledKvCacheBytes / Math.Max(1, KvCacheBytesPerSequence), 0, MaxPooledStates);
        _ones = new IndexTensorBuffer(signature.AttentionMaskType, maxLength);
        _ones.Fill(1);
        _masks = new OrtValue?[maxLength + 1];
        MaxBatchSize = BatchRows(options.MaxBatchSize);
    }

    /// <summary>The model folder.</summary>
    public string Folder { get; }

    /// <summary>The decoder ONNX file.</summary>
    public string ModelPath { get; }

    /// <summary>A short identifier: the folder's name.</summary>
    public string ModelId { get; }

    /// <summary>The folder's configuration.</summary>
    public GenAIConfig Config { get; }

    /// <summary>The folder's tokenizer.</summary>
    public ModelTokenizer Tokenizer { get; }

    /// <summary>Most tokens (prompt plus generated) one sequence may hold.</summary>
    public int MaxLength { get; }

    /// <summary>Length of the logits' vocabulary axis.</summary>
    public int VocabularySize => Config.Model.VocabSize;

    /// <summary>Whether past and present KV tensors share one buffer (<c>past_present_share_buffer</c>).</summary>
    public bool SharesKvBuffer => Config.Search.PastPresentShareBuffer;

    /// <summary>
    /// Bytes of KV cache one sequence allocates: layers x KV tensors x heads x <see cref="MaxLength"/> x head size x
    /// element size (twice over when past and present do not share a buffer). Finished sequences are pooled for reuse
    /// up to <see cref="OnnxGenAIModelOptions.MaxPooledKvCacheBytes"/>.
    /// </summary>
    public long KvCacheBytesPerSequence { get; }

    /// <summary>
    /// The sliding-window size from <c>decoder.sliding_window.window_size</c>, or null: each position attends to the last
    /// this-many positions (itself included, Hugging Face's convention). The KV cache then holds at most this many
    /// positions whatever the sequence length, and prompt prefixes are not reused.
    /// </summary>
    public int? SlidingWindow { get; }

    /// <summary>Positions one sequence's KV cache holds: <see cref="MaxLength"/>, or the sliding window when smaller.</summary>
    internal int KvCapacity { get; }

    /// <summary>The model family from <c>genai_config.json</c>'s <c>model.type</c>.</summary>
    public string ModelType => Config.Model.Type;

    /// <summary>Time spent loading (configuration, tokenizer, session).</summary>
    public TimeSpan LoadTime { get; }

    /// <summary>
    /// Whether a new sequence reuses the KV cache of an earlier one that started with the same tokens (see
    /// <see cref="OnnxGenAIModelOptions.ReusePromptPrefixes"/>). False for a sliding-window model and for a longrope
    /// folder whose graph switches RoPE tables at the original length or a dynamic NTK RoPE folder (cached keys depend on
    /// the length of the run that computed them).
    /// </summary>
    public bool ReusesPromptPrefixes { get; }

    internal InferenceSession Session { get; }

    /// <summary>
    /// The length past which the graph switches to its long-factor RoPE tables (longrope), from the model metadata
    /// <c>llmkit.rope_cache_switch_length</c> LlmKit's builder writes; null for a graph with one static pair of tables.
    /// </summary>
    internal int? RopeCacheSwitchLength { get; }

    /// <summary>
    /// True when the graph uses dynamic NTK RoPE scaling, whose cos/sin rows LlmKit writes before each run: prompt-prefix
    /// reuse, batching and speculative decoding are then off, since each would change how positions are split into runs.
    /// </summary>
    public bool UsesDynamicRope => Signature.DynamicRope is not null;

    /// <summary>
    /// True when a key's RoPE rotation depends on the total length of the run that computed it: a longrope graph that
    /// switches tables at the original length, or dynamic NTK scaling. Splitting positions into other runs than plain
    /// decoding would change the output, so prompt-prefix reuse, batching and speculative decoding are off.
    /// </summary>
    internal bool RotationDependsOnRunLength { get; }

    private static int? ReadRopeCacheSwitchLength(InferenceSession session) =>
        session.ModelMetadata.CustomMetadataMap.TryGetValue("llmkit.rope_cache_switch_length", out string? text)
        && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int length) && length > 0
            ? length
            : null;

    internal DecoderSignature Signature { get; }

    /// <summary>Loads a model folder.</summary>
    /// <param name="folder">A folder with <c>genai_config.json</c>, the decoder ONNX file and a tokenizer.</param>
    /// <param name="options">Session settings; null for defaults.</param>
    /// <exception cref="ModelFolderException">A file is missing or malformed, or the graph does not match the configuration.</exception>
    /// <exception cref="NotSupportedException">A requested execution provider is not in this ONNX Runtime build.</exception>
    public static OnnxGenAIModel Load(string folder, OnnxGenAIModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        options ??= new OnnxGenAIModelOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        folder = Path.GetFullPath(folder);
        if (!Directory.Exists(folder))
        {
            throw new ModelFolderException($"The model folder '{folder}' does not exist.") { FilePath = folder };
        }

        string configPath = Path.Combine(folder, GenAIConfigReader.FileName);
        var config = GenAIConfigReader.Read(configPath);
        string modelPath = Path.GetFullPath(Path.Combine(folder, config.Model.Decoder.Filename));
        if (!IsInside(modelPath, folder))
        {
            throw new ModelFolderException(
                $"{GenAIConfigReader.FileName}: $.model.decoder.filename '{config.Model.Decoder.Filename}' resolves to '{modelPath}', outside the model folder '{folder}' ('{configPath}').")
            { FilePath = configPath };
        }

        if (!File.Exists(modelPath))
        {
            throw new ModelFolderException(
                $"genai_config.json names the decoder file '{config.Model.Decoder.Filename}' but '{modelPath}' does not exist.") { FilePath = modelPath };
        }

        var tokenizer = ModelTokenizer.Load(folder, config);
        int maxLength = Math.Min(options.MaxLength ?? config.Search.MaxLength, config.Model.ContextLength);
        using var sessionOptions = SessionOptionsFactory.Create(config, options);
        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelFolderException($"ONNX Runtime could not load '{modelPath}': {ex.Message}", ex) { FilePath = modelPath };
        }

        try
        {
            var signature = DecoderSignature.Resolve(config, session, modelPath);
            CheckSlidingWindow(signature, config, configPath);
            CheckDynamicRope(signature, config, maxLength, modelPath);
            CheckKvCacheFits(signature, Math.Min(maxLength, config.Model.Decoder.SlidingWindow?.WindowSize ?? maxLength), config, configPath);
            var model = new OnnxGenAIModel(folder, modelPath, config, tokenizer, session, signature, maxLength, clock.Elapsed, options);
            if (options.Logger is { } logger)
            {
                LogLoadedModel(logger, model.ModelId, model.ModelType, maxLength, model.KvCacheBytesPerSequence, signature.KvType.ToString(), model._maxPooledStates);
            }

            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses a max length whose KV cache cannot be allocated: one KV tensor must fit a .NET array, and one sequence's
    /// cache must fit in half the memory this process may use (the rest holds weights, activations and other
    /// sequences), so a config typo fails here instead of in an OutOfMemoryException.
    /// </summary>
    private static void CheckKvCacheFits(DecoderSignature signature, int maxLength, GenAIConfig config, string configPath)
    {
        long tensorBytes;
        long stateBytes;
        try
        {
            tensorBytes = DecoderState.KvTensorBytes(signature, maxLength);
            stateBytes = DecoderState.KvBytesPerState(signature, maxLength, config.Search.PastPresentShareBuffer);
        }
        catch (OverflowException)
        {
            tensorBytes = stateBytes = long.MaxValue;
        }

        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        if (tensorBytes > Array.MaxLength || stateBytes > available)
        {
            throw new ModelFolderException(
                $"A sequence of max length {maxLength} (search.max_length / context_length in {GenAIConfigReader.FileName}, or OnnxGenAIModelOptions.MaxLength) " +
                $"needs {stateBytes:N0} bytes of KV cache ({signature.Layers} layers x {signature.KvHeads} KV heads x head size {signature.HeadSize}, {signature.KvType}); " +
                $"one sequence may use at most {available:N0} bytes (half the memory available to this process) and one KV tensor at most {Array.MaxLength:N0}. Set OnnxGenAIModelOptions.MaxLength lower ('{configPath}').")
            { FilePath = configPath };
        }
    }

    /// <summary>
    /// The runtime slides the cache only where it controls positions: a graph that takes position_ids and
    /// concatenates its KV. A GroupQueryAttention graph with shared buffers derives positions from the cache length,
    /// so its window must be in the graph (local_window_size), not in the configuration.
    /// </summary>
    private static void CheckSlidingWindow(DecoderSignature signature, GenAIConfig config, string configPath)
    {
        if (config.Model.Decoder.SlidingWindow is not { } window)
        {
            return;
        }

        if (config.Search.PastPresentShareBuffer || signature.PositionIds is null)
        {
            throw new ModelFolderException(
                $"{GenAIConfigReader.FileName}: $.model.decoder.sliding_window (window_size {window.WindowSize}) needs a graph with a position_ids input and " +
                $"past_present_share_buffer false; this graph derives positions from its KV cache, so its window belongs in the graph (GroupQueryAttention local_window_size) ('{configPath}').")
            { FilePath = configPath };
        }
    }

    private static bool IsInside(string path, string folder)
    {
        string root = Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar;
        return path.StartsWith(root, StringComparison.Ordinal);
    }

    /// <summary>A dynamic-RoPE graph needs cos/sin inputs covering the max length, and no sliding window.</summary>
    private static void CheckDynamicRope(DecoderSignature signature, GenAIConfig config, int maxLength, string modelPath)
    {
        if (signature.DynamicRope is null)
        {
            return;
        }

        if (signature.RopeCacheRows < maxLength)
        {
            throw new ModelFolderException($"The graph '{modelPath}' declares cos_cache/sin_cache of {signature.RopeCacheRows} rows, fewer than the max length {maxLength} (context_length/max_length in genai_config.json).") { FilePath = modelPath };
        }

        if (config.Model.Decoder.SlidingWindow is not null)
        {
            throw new ModelFolderException($"The graph '{modelPath}' combines dynamic rope scaling with a sliding window (genai_config.json model.decoder.sliding_window), which LlmKit does not run.") { FilePath = modelPath };
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded model {ModelId} (type {ModelType}): max length {MaxLength}, KV cache {KvBytes} bytes per sequence ({KvType}), up to {PooledStates} finished sequences pooled")]
    private static partial void LogLoadedModel(ILogger logger, string modelId, string modelType, int maxLength, long kvBytes, string kvType, int pooledStates);

    /// <summary>
    /// Loads a LoRA adapter (an <c>.onnx_adapter</c> file, e.g. from <c>llmkit adapter</c>) under <paramref name="name"/>;
    /// requests then activate it with <see cref="GenerationOptions.Adapter"/>. Several adapters can be loaded; each request
    /// runs with one or none. Safe to call while other requests run.
    /// </summary>
    /// <param name="name">The name requests use; unique per model.</param>
    /// <param name="path">The adapter file.</param>
    /// <returns>The loaded adapter (owned by the model).</returns>
    /// <exception cref="ArgumentException">The name is empty or already loaded.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, or a tensor does not match a LoRA input of this model's graph (the message names it).</exception>
    public LoraAdapter LoadAdapter(string name, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var parameters = OnnxAdapterFile.Read(path);
        var inputs = Session.OverridableInitializerMetadata;
        foreach (var p in parameters)
        {
            if (!inputs.TryGetValue(p.Name, out var metadata))
            {
                throw new InvalidDataException(
                    $"Adapter '{name}' ('{path}'): tensor '{p.Name}' is not an overridable input of '{ModelPath}'. Was the model built with LoRA inputs (llmkit convert ... --lora), and the adapter for this model?");
            }

            int[] expected = metadata.Dimensions;
            bool fits = metadata.ElementDataType == p.ElementType && expected.Length == p.Dims.Length;
            for (int d = 0; fits && d < expected.Length; d++)
            {
                fits = expected[d] < 0 || expected[d] == p.Dims[d]; // -1: symbolic (the rank)
            }

            if (!fits)
            {
                throw new InvalidDataException(
                    $"Adapter '{name}' ('{path}'): tensor '{p.Name}' is {p.ElementType} [{string.Join(", ", p.Dims)}] but the model's input is {metadata.ElementDataType} [{string.Join(", ", expected)}].");
            }
        }

        var adapter = new LoraAdapter(name, Path.GetFullPath(path), parameters);
        lock (_adapters)
        {
            if (!_adapters.TryAdd(name, adapter))
            {
                adapter.Release();
                throw new ArgumentException($"An adapter named '{name}' is already loaded.", nameof(name));
            }
        }

        return adapter;
    }

    /// <summary>The names of the loaded adapters.</summary>
    public IReadOnlyList<string> AdapterNames
    {
        get
        {
            lock (_adapters)
            {
                return [.. _adapters.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The adapter a request names, or null for the base model.</summary>
    /// <exception cref="ArgumentException">No adapter of that name is loaded.</exception>
    internal LoraAdapter? AdapterFor(GenerationOptions options)
    {
        if (options.Adapter is not { } name)
        {
            return null;
        }

        lock (_adapters)
        {
            if (_adapters.TryGetValue(name, out var adapter))
            {
                return adapter;
            }

            string loaded = _adapters.Count == 0 ? "none" : string.Join(", ", _adapters.Keys.Order(StringComparer.Ordinal));
            throw new ArgumentException($"adapter '{name}' is not loaded in model '{ModelId}' (loaded: {loaded}); call OnnxGenAIModel.LoadAdapter first.", nameof(options));
        }
    }

    /// <summary>
    /// The folder's <c>search</c> defaults overlaid with <paramref name="options"/>: the settings a generation really uses.
    /// </summary>
    public GenerationOptions ResolveOptions(GenerationOptions? options)
    {
        options ??= new GenerationOptions();
        options.Validate();
        return options.WithDefaultsFrom(Config.Search);
    }

    /// <summary>Starts a generation for a tokenized prompt.</summary>
    /// <param name="promptTokens">The prompt's token ids (BOS included when the model uses it). Must not be empty.</param>
    /// <param name="options">Settings; null uses the folder's defaults.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary, or does not fit the max length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public Generator CreateGenerator(ReadOnlySpan<int> promptTokens, GenerationOptions? options = null)
    {
        var resolved = ResolveFor(promptTokens, options);
        if (resolved.NumBeams > 1)
        {
            throw new NotSupportedException(
                $"num_beams is {resolved.NumBeams}{(options?.NumBeams is null ? " (search.num_beams in genai_config.json)" : "")}: a generator produces one sequence token by token; use BeamSearch (or GenerateAsync), or set NumBeams = 1.");
        }

        return new Generator(this, promptTokens, resolved, CreatePipeline(resolved), CreateMatcher(resolved));
    }

    /// <summary>
    /// Runs a beam search as onnxruntime-genai does (same candidates, hypotheses, length penalty and early stopping) and
    /// returns <see cref="GenerationOptions.NumReturnSequences"/> sequences, best first.
    /// </summary>
    /// <param name="promptTokens">The prompt's token ids (BOS included when the model uses it). Must not be empty.</param>
    /// <param name="options">Settings: <see cref="GenerationOptions.NumBeams"/>, <see cref="GenerationOptions.LengthPenalty"/>,
    /// <see cref="GenerationOptions.EarlyStopping"/>, <see cref="GenerationOptions.NumReturnSequences"/>, max/min new tokens,
    /// repetition penalty and no-repeat n-gram; sampling settings do not apply. Null uses the folder's defaults.</param>
    /// <param name="cancellationToken">Checked before every step.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary, or does not fit the max length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <remarks>The beams run one after another, each with its own KV cache (cost: num_beams runs per step).</remarks>
    public IReadOnlyList<BeamSequence> BeamSearch(ReadOnlySpan<int> promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var resolved = ResolveFor(promptTokens, options);
        if (resolved.Constraint is not null)
        {
            throw new NotSupportedException("GenerationOptions.Constraint is not applied to beam search (beams would need one matcher each); remove it or set NumBeams = 1.");
        }

        using var search = new BeamSearch(this, promptTokens, resolved);
        return search.Run(cancellationToken);
    }

    private GenerationOptions ResolveFor(ReadOnlySpan<int> promptTokens, GenerationOptions? options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (promptTokens.IsEmpty)
        {
            throw new ArgumentException("The prompt must have at least one token.", nameof(promptTokens));
        }

        if (promptTokens.Length >= MaxLength)
        {
            throw new ArgumentException(
                $"The prompt has {promptTokens.Length} tokens but the model's max length is {MaxLength}: leave room for at least one new token.",
                nameof(promptTokens));
        }

        foreach (int id in promptTokens)
        {
            if ((uint)id >= (uint)VocabularySize)
            {
                throw new ArgumentException($"Token id {id} is outside the vocabulary [0, {VocabularySize}).", nameof(promptTokens));
            }
        }

        var resolved = ResolveOptions(options);
        AdapterFor(resolved); // an unknown adapter fails here, before any state is rented
        resolved.DraftModel?.EnsureCompatibleWith(this);
        if (resolved.MinNewTokens is null)
        {
            // search.min_length counts the prompt (onnxruntime-genai's convention).
            resolved = resolved with { MinNewTokens = Math.Max(0, Config.Search.MinLength - promptTokens.Length) };
        }

        return resolved;
    }

    /// <summary>
    /// Rents a KV state (buffers sized to <see cref="MaxLength"/>) for a sequence that starts with
    /// <paramref name="sequence"/>; return it with <see cref="ReturnState"/>. With prefix reuse on, the pooled state
    /// sharing the longest prefix with <paramref name="sequence"/> comes back holding that prefix (at most all but
    /// the last token, whose logits the caller needs): the caller appends from <see cref="DecoderState.Length"/> on.
    /// </summary>
    internal DecoderState RentState(ReadOnlySpan<int> sequence, LoraAdapter? adapter = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DecoderState? state = null;
        int shared = 0;
        lock (_statePool)
        {
            if (_statePool.Count > 0)
            {
                // The longest shared prefix wins; with none, the state returned longest ago (the least likely to be asked for).
                // Only a state that ran under the same adapter can share a prefix: its KV was computed with that adapter's weights.
                // Without a shared prefix, a state of the same adapter is sacrificed before another adapter's cached prefix.
                int best = Math.Max(0, _statePool.FindIndex(s => ReferenceEquals(s.Adapter, adapter)));
                for (int i = 0; ReusesPromptPrefixes && i < _statePool.Count; i++)
                {
                    if (!ReferenceEquals(_statePool[i].Adapter, adapter))
                    {
                        continue;
                    }

                    int common = sequence.CommonPrefixLength(_statePool[i].Tokens);
                    if (common > shared)
                    {
                        (best, shared) = (i, common);
                    }
                }

                state = _statePool[best];
                _statePool.RemoveAt(best);
            }
        }

        state ??= new DecoderState(this);
        state.Truncate(Math.Min(shared, Math.Max(0, sequence.Length - 1)));
        state.SetAdapter(adapter); // after the truncation: a state switching adapters holds no tokens
        return state;
    }

    /// <summary>Returns a state to the pool (keeping its tokens for prefix reuse) so a later sequence reuses its buffers.</summary>
    internal void ReturnState(DecoderState state)
    {
        state.ClearCancellation();
        DecoderState? evicted = null;
        lock (_statePool)
        {
            if (_disposed)
            {
                evicted = state;
            }
            else
            {
                _statePool.Add(state);
                if (_statePool.Count > _maxPooledStates)
                {
                    evicted = _statePool[0];
                    _statePool.RemoveAt(0);
                }
            }
        }

        evicted?.Dispose();
    }

    /// <summary>An all-ones attention mask [1, length]; cached per length and shared read-only by every sequence.</summary>
    internal OrtValue AttentionMaskOfLength(int length)
    {
        var mask = Volatile.Read(ref _masks[length]);
        if (mask is not null)
        {
            return mask;
        }

        var created = _ones.View(length);
        var existing = Interlocked.CompareExchange(ref _masks[length], created, null);
        if (existing is not null)
        {
            created.Dispose();
            return existing;
        }

        return created;
    }

    /// <inheritdoc />
    string IGenerationEngine.ModelType => Config.Model.Type;

    /// <inheritdoc />
    Task<GenerationResult> IGenerationEngine.GenerateAsync(int[] promptTokens, GenerationOptions? options, CancellationToken cancellationToken) =>
        TextGenerationExtensions.GenerateAsync(this, promptTokens, options, cancellationToken);

    /// <inheritdoc />
    IAsyncEnumerable<GenerationUpdate> IGenerationEngine.GenerateStreamingAsync(int[] promptTokens, GenerationOptions? options, CancellationToken cancellationToken) =>
        TextGenerationExtensions.GenerateStreamingAsync(this, promptTokens, options, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        DisposeBatching(); // first: its thread returns states to the pool
        DecoderState[] pooled;
        lock (_statePool)
        {
            _disposed = true;
            pooled = [.. _statePool];
            _statePool.Clear();
        }

        foreach (var state in pooled)
        {
            state.Dispose();
        }

        lock (_adapters)
        {
            foreach (var adapter in _adapters.Values)
            {
                adapter.Release();
            }

            _adapters.Clear();
        }

        Session.Dispose();
        foreach (var mask in _masks)
        {
            mask?.Dispose();
        }
    }
}
