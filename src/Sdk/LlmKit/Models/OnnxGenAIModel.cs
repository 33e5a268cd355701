using System.Diagnostics;
using LlmKit.Generation;
using LlmKit.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Models;

/// <summary>
/// A loaded ONNX GenAI model folder (<c>genai_config.json</c>, the decoder ONNX file, the tokenizer): the
/// ONNX Runtime session, the tokenizer and the folder's defaults. Create <see cref="Generator"/>s from it.
/// </summary>
/// <remarks>
/// Thread-safe: one model serves any number of concurrent generations, each with its own KV state
/// (ONNX Runtime sessions allow concurrent runs). Dispose it when no generation is running.
/// </remarks>
public sealed class OnnxGenAIModel : IGenerationEngine, IDisposable
{
    private const int MaxPooledStates = 8;
    private readonly List<DecoderState> _statePool = []; // oldest first; guarded by itself
    private readonly long[] _ones;
    private readonly OrtValue?[] _masks;
    private bool _disposed;

    private OnnxGenAIModel(string folder, string modelPath, GenAIConfig config, ModelTokenizer tokenizer, InferenceSession session, DecoderSignature signature, int maxLength, TimeSpan loadTime, bool reusePromptPrefixes)
    {
        Folder = folder;
        ModelPath = modelPath;
        Config = config;
        Tokenizer = tokenizer;
        Session = session;
        Signature = signature;
        MaxLength = maxLength;
        LoadTime = loadTime;
        ReusesPromptPrefixes = reusePromptPrefixes;
        ModelId = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        _ones = GC.AllocateArray<long>(maxLength, pinned: true);
        Array.Fill(_ones, 1L);
        _masks = new OrtValue?[maxLength + 1];
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

    /// <summary>Time spent loading (configuration, tokenizer, session).</summary>
    public TimeSpan LoadTime { get; }

    /// <summary>
    /// Whether a new sequence reuses the KV cache of an earlier one that started with the same tokens (see
    /// <see cref="OnnxGenAIModelOptions.ReusePromptPrefixes"/>).
    /// </summary>
    public bool ReusesPromptPrefixes { get; }

    internal InferenceSession Session { get; }

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

        var config = GenAIConfigReader.Read(Path.Combine(folder, GenAIConfigReader.FileName));
        string modelPath = Path.Combine(folder, config.Model.Decoder.Filename);
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
            return new OnnxGenAIModel(folder, modelPath, config, tokenizer, session, signature, maxLength, clock.Elapsed, options.ReusePromptPrefixes);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The folder's <c>search</c> defaults overlaid with <paramref name="options"/>: the settings a generation really uses.
    /// </summary>
    public GenerationOptions ResolveOptions(GenerationOptions? options)
    {
        var search = Config.Search;
        options ??= new GenerationOptions();
        options.Validate();
        return options with
        {
            Temperature = options.Temperature ?? (search.DoSample ? search.Temperature : 0f),
            TopK = options.TopK ?? (search.DoSample ? search.TopK : 0),
            TopP = options.TopP ?? (search.DoSample ? search.TopP : 1f),
            RepetitionPenalty = options.RepetitionPenalty ?? search.RepetitionPenalty,
            NoRepeatNGramSize = options.NoRepeatNGramSize ?? search.NoRepeatNGramSize,
        };
    }

    /// <summary>Starts a generation for a tokenized prompt.</summary>
    /// <param name="promptTokens">The prompt's token ids (BOS included when the model uses it). Must not be empty.</param>
    /// <param name="options">Settings; null uses the folder's defaults.</param>
    /// <exception cref="ArgumentException">The prompt is empty, has an id outside the vocabulary, or does not fit the max length.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public Generator CreateGenerator(ReadOnlySpan<int> promptTokens, GenerationOptions? options = null)
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
        return new Generator(this, promptTokens, resolved, LogitsPipeline.Create(resolved, VocabularySize));
    }

    /// <summary>
    /// Rents a KV state (buffers sized to <see cref="MaxLength"/>) for a sequence that starts with
    /// <paramref name="sequence"/>; return it with <see cref="ReturnState"/>. With prefix reuse on, the pooled state
    /// sharing the longest prefix with <paramref name="sequence"/> comes back holding that prefix (at most all but
    /// the last token, whose logits the caller needs): the caller appends from <see cref="DecoderState.Length"/> on.
    /// </summary>
    internal DecoderState RentState(ReadOnlySpan<int> sequence)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DecoderState? state = null;
        int shared = 0;
        lock (_statePool)
        {
            if (_statePool.Count > 0)
            {
                // The longest shared prefix wins; with none, the state returned longest ago (the least likely to be asked for).
                int best = 0;
                for (int i = 0; ReusesPromptPrefixes && i < _statePool.Count; i++)
                {
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

        if (state is null)
        {
            return new DecoderState(this);
        }

        state.Truncate(Math.Min(shared, Math.Max(0, sequence.Length - 1)));
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
                if (_statePool.Count > MaxPooledStates)
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

        var created = DecoderState.Create(_ones, TensorElementType.Int64, [1, length], (long)length * sizeof(long));
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

        Session.Dispose();
        foreach (var mask in _masks)
        {
            mask?.Dispose();
        }
    }
}
