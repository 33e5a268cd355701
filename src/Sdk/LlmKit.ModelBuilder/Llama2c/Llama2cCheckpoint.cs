using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LlmKit.ModelBuilder;

/// <summary>
/// A llama2.c checkpoint (the legacy <c>.bin</c> format of <c>run.c</c>): a header of seven int32 values
/// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means an
/// untied classifier) followed by float32 tensors. Loading validates the header and the exact file size.
/// Instances are immutable after loading and safe for concurrent readers.
/// </summary>
public sealed class Llama2cCheckpoint
{
    /// <summary>Size of the header in bytes.</summary>
    public const int HeaderBytes = 7 * sizeof(int);

    private Llama2cCheckpoint(string path, Llama2cWeights weights)
    {
        Path = path;
        Weights = weights;
    }

    /// <summary>Full path the checkpoint was loaded from.</summary>
    public string Path { get; }

    /// <summary>The model shape read from the header.</summary>
    public LlamaConfig Config => Weights.Config;

    /// <summary>The tensors.</summary>
    public Llama2cWeights Weights { get; }

    /// <summary>Reads and validates only the header of a checkpoint.</summary>
    /// <param name="path">Path of the <c>.bin</c> file.</param>
    /// <returns>The shape, and the number of bytes a complete file of that shape has.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is invalid.</exception>
    public static (LlamaConfig Config, long ExpectedBytes) ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Loads a checkpoint into memory.</summary>
    /// <param name="path">Path of the <c>.bin</c> file.</param>
    /// <param name="cancellationToken">Cancels between tensors.</param>
    /// <exception cref="FileNotFoundException">The file does not exist (the message names it).</exception>
    /// <exception cref="InvalidDataException">The header is invalid, or the file is truncated or too long (the message gives expected and actual bytes).</exception>
    public static Llama2cCheckpoint Load(string path, CancellationToken cancellationToken = default)
    {
        using var stream = OpenRead(path);
        var (config, _) = ReadHeader(stream, path);
        var weights = new Llama2cWeights(config);
        foreach (var (_, data) in weights.InFileOrder())
        {
            cancellationToken.ThrowIfCancellationRequested();
            ReadFloats(stream, data);
        }

        // Legacy RoPE tables (freq_cis_real, freq_cis_imag): unused, RoPE is recomputed from theta.
        stream.Seek(2L * config.SeqLen * (config.HeadSize / 2) * sizeof(float), SeekOrigin.Current);
        if (!config.SharedClassifier)
        {
            ReadFloats(stream, weights.Classifier);
        }

        return new Llama2cCheckpoint(System.IO.Path.GetFullPath(path), weights);
    }

    /// <summary>Number of bytes a complete checkpoint of the given shape occupies.</summary>
    /// <param name="config">The model shape.</param>
    public static long ExpectedFileBytes(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long d = config.Dim, h = config.HiddenDim, l = config.Layers, kv = config.KvDim, v = config.VocabSize;
        long floats = (v * d) + (l * d) + (l * d * d) + (2 * l * kv * d) + (l * d * d) + (l * d) + (3 * l * h * d) + d
            + (2L * config.SeqLen * (config.HeadSize / 2))
            + (config.SharedClassifier ? 0 : v * d);
        return HeaderBytes + (floats * sizeof(float));
    }

    private static FileStream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint file not found: '{System.IO.Path.GetFullPath(path)}'.", path);
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
    }

    private static (LlamaConfig, long) ReadHeader(FileStream stream, string path)
    {
        long actual = stream.Length;
        if (actual < HeaderBytes)
        {
            throw new InvalidDataException(
                $"Checkpoint '{path}' is truncated: expected at least {HeaderBytes} bytes for the header, found {actual} bytes.");
        }

        byte[] header = new byte[HeaderBytes];
        stream.ReadExactly(header);
        int Field(int i) => BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(i * 4));
        int vocab = Field(5);
        var config = new LlamaConfig(Field(0), Field(1), Field(2), Field(3), Field(4), Math.Abs(vocab), Field(6), vocab > 0);
        try
        {
            config.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException(
                $"Checkpoint '{path}' has an invalid header (dim {config.Dim}, hidden_dim {config.HiddenDim}, layers {config.Layers}, " +
                $"heads {config.Heads}, kv_heads {config.KvHeads}, vocab {vocab}, seq_len {config.SeqLen}): {e.Message}", e);
        }

        long expected = ExpectedFileBytes(config);
        if (actual != expected)
        {
            string what = actual < expected ? "is truncated" : "is longer than its header implies";
            throw new InvalidDataException(
                $"Checkpoint '{path}' {what}: expected {expected} bytes for dim {config.Dim}, hidden_dim {config.HiddenDim}, " +
                $"layers {config.Layers}, heads {config.Heads}, kv_heads {config.KvHeads}, vocab {vocab}, seq_len {config.SeqLen}, " +
                $"but the file has {actual} bytes.");
        }

        return (config, expected);
    }

    private static void ReadFloats(Stream stream, float[] destination)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("llama2.c checkpoints are little-endian; big-endian hosts are not supported.");
        }

        // Read straight into the float array's bytes, in chunks (a Span over > 2 GiB is not possible).
        const int chunkFloats = 1 << 26;
        for (long start = 0; start < destination.LongLength; start += chunkFloats)
        {
            int count = (int)Math.Min(chunkFloats, destination.LongLength - start);
            stream.ReadExactly(MemoryMarshal.AsBytes(destination.AsSpan((int)start, count)));
        }
    }
}
