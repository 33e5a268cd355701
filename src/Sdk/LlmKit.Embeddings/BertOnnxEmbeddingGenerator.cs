using System.Numerics.Tensors;
using LlmKit.Embeddings.Tokenization;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Embeddings;

/// <summary>
/// Sentence embeddings from a BERT-family ONNX encoder (all-MiniLM-L6-v2, bge, e5, gte, arctic-embed, …) as a
/// Microsoft.Extensions.AI <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>: LlmKit's own WordPiece tokenizer,
/// one ONNX Runtime session, mean / CLS / max pooling and optional L2 normalisation.
/// </summary>
/// <remarks>
/// <para>
/// Texts of one request are sorted by token count and run in batches of <see cref="BertOnnxOptions.BatchSize"/>, so
/// short texts are not padded to the longest; results come back in the caller's order.
/// </para>
/// <para>
/// The work is CPU-bound and runs on the calling thread; <see cref="GenerateAsync"/> completes synchronously.
/// Cancellation is checked between batches and also stops a running batch (through ONNX Runtime's run options).
/// </para>
/// <para>
/// Thread-safe: the tokenizer is immutable, <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// may be called concurrently, and every call uses its own buffers. Dispose once, after the last call.
/// </para>
/// </remarks>
public sealed class BertOnnxEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>, IDisposable
{
    private const string ProviderName = "llmkit-onnx";
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly InputKind[] _inputKinds;
    private readonly bool _int32Inputs;
    private readonly string _outputName;
    private readonly bool _outputIsPooled;
    private readonly bool _truncate;
    private readonly int _batchSize;
    private readonly string _modelId;
    private readonly EmbeddingGeneratorMetadata _metadata;
    private int _disposed;

    private BertOnnxEmbeddingGenerator(string onnxModelPath, byte[]? modelBytes, WordPieceTokenizer tokenizer, SentenceTransformersFolder folder, BertOnnxOptions options, string modelId)
    {
        Tokenizer = tokenizer;
        PoolingMode = options.PoolingMode ?? folder.PoolingMode ?? EmbeddingPoolingMode.Mean;
        NormalizeEmbeddings = options.NormalizeEmbeddings ?? folder.Normalize ?? true;
        MaximumTokens = options.MaximumTokens ?? folder.MaxSequenceLength ?? 512;
        _truncate = options.TruncateLongInput;
        _batchSize = options.BatchSize;
        _modelId = modelId;

        using var sessionOptions = EmbeddingSessionOptions.Create(options);
        try
        {
            _session = modelBytes is null ? new InferenceSession(onnxModelPath, sessionOptions) : new InferenceSession(modelBytes, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"ONNX model '{onnxModelPath}' could not be loaded: {ex.Message}", ex);
        }

        try
        {
            (_inputNames, _inputKinds, _int32Inputs) = ReadInputs(_session, onnxModelPath);
            (_outputName, _outputIsPooled, int dimensions) = ReadOutput(_session, onnxModelPath);
            if (dimensions <= 0)
            {
                dimensions = folder.WordEmbeddingDimension ?? 0;
            }

            Dimensions = dimensions;
            if (Dimensions <= 0)
            {
                // The graph leaves the hidden size symbolic: measure it once on an empty text.
                Dimensions = Embed([""], CancellationToken.None, out _)[0].Length;
            }
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        _metadata = new EmbeddingGeneratorMetadata(ProviderName, providerUri: null, _modelId, Dimensions);
    }

    private enum InputKind
    {
        InputIds,
        AttentionMask,
        TokenTypeIds,
    }

    /// <summary>The tokenizer (shared, thread-safe).</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Length of every vector.</summary>
    public int Dimensions { get; }

    /// <summary>Longest input in tokens, <c>[CLS]</c> and <c>[SEP]</c> included.</summary>
    public int MaximumTokens { get; }

    /// <summary>The pooling in use.</summary>
    public EmbeddingPoolingMode PoolingMode { get; }

    /// <summary>Whether vectors are L2-normalised.</summary>
    public bool NormalizeEmbeddings { get; }

    /// <summary>
    /// Loads a model folder: <c>model.onnx</c> (or <c>onnx/model.onnx</c>) and <c>tokenizer.json</c> or <c>vocab.txt</c>, with the
    /// sentence-transformers settings files where present.
    /// </summary>
    /// <param name="modelDirectory">The folder.</param>
    /// <param name="options">Settings; a value set here wins over the folder's.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The model or the vocabulary is missing (the message names what was looked for).</exception>
    public static BertOnnxEmbeddingGenerator Load(string modelDirectory, BertOnnxOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        if (!Directory.Exists(modelDirectory))
        {
            throw new DirectoryNotFoundException($"Embedding model folder '{modelDirectory}' does not exist.");
        }

        string? model = FirstExisting(modelDirectory, "model.onnx", Path.Combine("onnx", "model.onnx"))
            ?? throw new FileNotFoundException($"Embedding model folder '{modelDirectory}' has no model.onnx (looked for model.onnx and onnx/model.onnx).");
        string? vocab = FirstExisting(modelDirectory, "tokenizer.json", "vocab.txt")
            ?? throw new FileNotFoundException($"Embedding model folder '{modelDirectory}' has neither tokenizer.json nor vocab.txt.");
        return CreateCore(model, vocab, modelDirectory, options);
    }

    /// <summary>
    /// Loads a model from its files, with the parameter names of Semantic Kernel's <c>BertOnnxTextEmbeddingGenerationService.Create</c>.
    /// Sentence-transformers settings files are read from the vocabulary's folder where present.
    /// </summary>
    /// <param name="onnxModelPath">The ONNX model file.</param>
    /// <param name="vocabPath">The <c>vocab.txt</c> (or a WordPiece <c>tokenizer.json</c>).</param>
    /// <param name="options">Settings.</param>
    public static BertOnnxEmbeddingGenerator Create(string onnxModelPath, string vocabPath, BertOnnxOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(onnxModelPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(vocabPath);
        if (!File.Exists(onnxModelPath))
        {
            throw new FileNotFoundException($"ONNX model file '{onnxModelPath}' does not exist.", onnxModelPath);
        }

        string settingsDirectory = Path.GetDirectoryName(Path.GetFullPath(vocabPath))!;
        return CreateCore(onnxModelPath, vocabPath, settingsDirectory, options);
    }

    private static BertOnnxEmbeddingGenerator CreateCore(string model, string vocab, string settingsDirectory, BertOnnxOptions? options)
    {
        options ??= new BertOnnxOptions();
        options.Validate();
        var folder = SentenceTransformersFolder.Read(settingsDirectory);
        var tokenizer = SentenceTransformersFolder.LoadTokenizer(vocab, options.CaseSensitive, folder.DoLowerCase);
        string modelId = options.ModelId ?? new DirectoryInfo(settingsDirectory).Name;
        return new BertOnnxEmbeddingGenerator(model, null, tokenizer, folder, options, modelId);
    }

    /// <summary>Largest ONNX model read from a stream (bytes): the managed array limit.</summary>
    public const long MaxModelStreamBytes = int.MaxValue - 64;

    /// <summary>
    /// Loads a model from streams, with the parameter names of Semantic Kernel's stream overload. Both streams are read to
    /// their end during this call and not disposed. No settings files exist for streams: pooling is mean, vectors are
    /// normalised and inputs are cut at 512 tokens unless <paramref name="options"/> says otherwise; the vocabulary is
    /// uncased unless <see cref="BertOnnxOptions.CaseSensitive"/> is true.
    /// </summary>
    /// <param name="onnxModelStream">The ONNX model.</param>
    /// <param name="vocabStream">The <c>vocab.txt</c> content.</param>
    /// <param name="options">Settings.</param>
    /// <exception cref="InvalidDataException">The model stream is longer than <see cref="MaxModelStreamBytes"/>.</exception>
    public static BertOnnxEmbeddingGenerator Create(Stream onnxModelStream, Stream vocabStream, BertOnnxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(onnxModelStream);
        ArgumentNullException.ThrowIfNull(vocabStream);
        options ??= new BertOnnxOptions();
        options.Validate();
        var tokenizer = WordPieceTokenizer.FromVocabStream(vocabStream, new WordPieceTokenizerOptions { LowerCase = options.CaseSensitive != true });
        byte[] model = ReadAll(onnxModelStream);
        return new BertOnnxEmbeddingGenerator("(stream)", model, tokenizer, new SentenceTransformersFolder(), options, options.ModelId ?? "bert-onnx");
    }

    private static byte[] ReadAll(Stream stream)
    {
        if (stream.CanSeek)
        {
            long remaining = stream.Length - stream.Position;
            if (remaining > MaxModelStreamBytes)
            {
                throw new InvalidDataException($"The ONNX model stream has {remaining} bytes; at most {MaxModelStreamBytes} can be read into memory. Load it from a file instead.");
            }

            byte[] bytes = new byte[remaining];
            stream.ReadExactly(bytes);
            return bytes;
        }

        using var copy = new MemoryStream();
        byte[] buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (copy.Length + read > MaxModelStreamBytes)
            {
                throw new InvalidDataException($"The ONNX model stream is longer than {MaxModelStreamBytes} bytes. Load it from a file instead.");
            }

            copy.Write(buffer, 0, read);
        }

        return copy.ToArray();
    }

    /// <inheritdoc />
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values as IReadOnlyList<string> ?? [.. values];
        float[][] vectors = Embed(texts, cancellationToken, out long tokens);
        var created = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>(vectors.Length)
        {
            Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens },
        };
        foreach (var vector in vectors)
        {
            result.Add(new Embedding<float>(vector) { ModelId = _modelId, CreatedAt = created });
        }

        return Task.FromResult(result);
    }

    /// <summary>Embeds texts synchronously; vectors come back in the order of <paramref name="texts"/>.</summary>
    /// <param name="texts">The texts (null entries are treated as empty).</param>
    /// <param name="cancellationToken">Stops the work between and within batches.</param>
    public float[][] Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken = default) => Embed(texts, cancellationToken, out _);

    /// <summary>Number of tokens a text takes (with <c>[CLS]</c> and <c>[SEP]</c>, before truncation).</summary>
    /// <param name="text">The text.</param>
    public int CountTokens(string? text) => Tokenizer.Encode(text).Length;

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(EmbeddingGeneratorMetadata))
        {
            return _metadata;
        }

        if (serviceType == typeof(WordPieceTokenizer))
        {
            return Tokenizer;
        }

        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
        }
    }

    private float[][] Embed(IReadOnlyList<string> texts, CancellationToken cancellationToken, out long tokenCount)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var encoded = new int[texts.Count][];
        tokenCount = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] ids = Tokenizer.Encode(texts[i]);
            if (ids.Length > MaximumTokens)
            {
                if (!_truncate)
                {
                    throw new ArgumentException(
                        $"Input {i} has {ids.Length} tokens; model '{_modelId}' accepts at most {MaximumTokens}. Shorten it or set TruncateLongInput = true.",
                        nameof(texts));
                }

                int[] truncated = ids[..MaximumTokens];
                truncated[^1] = Tokenizer.SepId;
                ids = truncated;
            }

            encoded[i] = ids;
            tokenCount += ids.Length;
        }

        // Longest first, stable: each batch pads only to its own longest text.
        int[] order = new int[encoded.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => encoded[a].Length != encoded[b].Length ? encoded[b].Length.CompareTo(encoded[a].Length) : a.CompareTo(b));

        var vectors = new float[encoded.Length][];
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions)
            : default;
        for (int start = 0; start < order.Length; start += _batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(_batchSize, order.Length - start);
            RunBatch(encoded, order.AsSpan(start, count), vectors, runOptions, cancellationToken);
        }

        return vectors;
    }

    private void RunBatch(int[][] encoded, ReadOnlySpan<int> batch, float[][] vectors, RunOptions runOptions, CancellationToken cancellationToken)
    {
        int rows = batch.Length;
        int length = encoded[batch[0]].Length; // sorted longest first
        int cells = rows * length;
        long[] shape = [rows, length];

        var inputs = new OrtValue[_inputNames.Length];
        try
        {
            for (int k = 0; k < _inputNames.Length; k++)
            {
                inputs[k] = _int32Inputs ? CreateInput<int>(_inputKinds[k], encoded, batch, length, cells, shape) : CreateInput<long>(_inputKinds[k], encoded, batch, length, cells, shape);
            }

            IDisposableReadOnlyCollection<OrtValue> outputs;
            try
            {
                outputs = _session.Run(runOptions, _inputNames, inputs, [_outputName]);
            }
            catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            using (outputs)
            {
                var output = outputs[0];
                var info = output.GetTensorTypeAndShape();
                if (info.ElementDataType != TensorElementType.Float)
                {
                    throw new NotSupportedException($"Output '{_outputName}' of model '{_modelId}' is {info.ElementDataType}; only float32 outputs are supported.");
                }

                ReadOnlySpan<float> data = output.GetTensorDataAsSpan<float>();
                long[] outShape = info.Shape;
                int hidden = (int)outShape[^1];
                for (int r = 0; r < rows; r++)
                {
                    int[] ids = encoded[batch[r]];
                    float[] vector;
                    if (_outputIsPooled)
                    {
                        vector = data.Slice(r * hidden, hidden).ToArray();
                    }
                    else
                    {
                        int seq = (int)outShape[1];
                        vector = Pool(data.Slice(r * seq * hidden, seq * hidden), ids.Length, hidden);
                    }

                    if (NormalizeEmbeddings)
                    {
                        float norm = TensorPrimitives.Norm(vector);
                        TensorPrimitives.Divide(vector, MathF.Max(norm, 1e-12f), vector);
                    }

                    vectors[batch[r]] = vector;
                }
            }
        }
        finally
        {
            foreach (var input in inputs)
            {
                input?.Dispose();
            }
        }
    }

    private float[] Pool(ReadOnlySpan<float> tokens, int tokenCount, int hidden)
    {
        var vector = new float[hidden];
        switch (PoolingMode)
        {
            case EmbeddingPoolingMode.Cls:
                tokens[..hidden].CopyTo(vector);
                break;
            case EmbeddingPoolingMode.Max:
                tokens[..hidden].CopyTo(vector);
                for (int t = 1; t < tokenCount; t++)
                {
                    TensorPrimitives.Max(vector, tokens.Slice(t * hidden, hidden), vector);
                }

                break;
            default:
                for (int t = 0; t < tokenCount; t++)
                {
                    TensorPrimitives.Add(vector, tokens.Slice(t * hidden, hidden), vector);
                }

                TensorPrimitives.Divide(vector, Math.Max(tokenCount, 1), vector);
                break;
        }

        return vector;
    }

    /// <summary>One input of a batch, [rows, length], in the element type the graph declares (int64 or int32).</summary>
    private OrtValue CreateInput<T>(InputKind kind, int[][] encoded, ReadOnlySpan<int> batch, int length, int cells, long[] shape)
        where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        var buffer = new T[cells];
        T pad = T.CreateChecked(Tokenizer.PadId);
        for (int r = 0; r < batch.Length; r++)
        {
            int[] ids = encoded[batch[r]];
            var row = buffer.AsSpan(r * length, length);
            switch (kind)
            {
                case InputKind.InputIds:
                    for (int t = 0; t < ids.Length; t++)
                    {
                        row[t] = T.CreateTruncating(ids[t]);
                    }

                    row[ids.Length..].Fill(pad);
                    break;
                case InputKind.AttentionMask:
                    row[..ids.Length].Fill(T.One);
                    break;
                default:
                    break; // token_type_ids: all zero for a single sentence
            }
        }

        return OrtValue.CreateTensorValueFromMemory(buffer, shape);
    }

    private static (string[] Names, InputKind[] Kinds, bool Int32) ReadInputs(InferenceSession session, string path)
    {
        var names = new List<string>();
        var kinds = new List<InputKind>();
        bool? int32 = null;
        foreach (var (name, meta) in session.InputMetadata)
        {
            InputKind kind = name switch
            {
                "input_ids" => InputKind.InputIds,
                "attention_mask" => InputKind.AttentionMask,
                "token_type_ids" => InputKind.TokenTypeIds,
                _ => throw new NotSupportedException(
                    $"ONNX model '{path}' has input '{name}'; a BERT encoder's inputs are input_ids, attention_mask and token_type_ids."),
            };
            bool isInt32 = meta.ElementDataType switch
            {
                TensorElementType.Int64 => false,
                TensorElementType.Int32 => true,
                _ => throw new NotSupportedException($"ONNX model '{path}': input '{name}' is {meta.ElementDataType}; int64 or int32 expected."),
            };
            if (int32 is { } previous && previous != isInt32)
            {
                throw new NotSupportedException($"ONNX model '{path}' mixes int32 and int64 inputs.");
            }

            int32 = isInt32;
            names.Add(name);
            kinds.Add(kind);
        }

        if (!kinds.Contains(InputKind.InputIds))
        {
            throw new NotSupportedException($"ONNX model '{path}' has no 'input_ids' input; it is not a BERT-family encoder.");
        }

        return ([.. names], [.. kinds], int32 ?? false);
    }

    private static (string Name, bool Pooled, int Dimensions) ReadOutput(InferenceSession session, string path)
    {
        string? rank3 = null;
        string? rank2 = null;
        int dims3 = -1;
        int dims2 = -1;
        foreach (var (name, meta) in session.OutputMetadata)
        {
            int[] dims = meta.Dimensions;
            if (dims.Length == 3 && (rank3 is null || name is "last_hidden_state" or "token_embeddings"))
            {
                rank3 = name;
                dims3 = dims[2];
            }
            else if (dims.Length == 2 && (rank2 is null || name is "sentence_embedding"))
            {
                rank2 = name;
                dims2 = dims[1];
            }
        }

        if (rank3 is not null)
        {
            return (rank3, false, dims3);
        }

        if (rank2 is not null)
        {
            return (rank2, true, dims2);
        }

        throw new NotSupportedException(
            $"ONNX model '{path}' has no [batch, sequence, hidden] output (like last_hidden_state) nor a [batch, hidden] sentence embedding.");
    }

    private static string? FirstExisting(string directory, params string[] names)
    {
        foreach (var name in names)
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
