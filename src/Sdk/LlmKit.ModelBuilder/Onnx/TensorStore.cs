using System.Globalization;
using Google.Protobuf;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// Creates initializer tensors, either inline (raw_data wraps the freshly filled buffer without a copy) or as
/// ONNX external data appended to a side file, so that a big model is streamed tensor by tensor and never
/// held twice in memory. Not thread-safe.
/// </summary>
internal sealed class TensorStore : IDisposable
{
    private const int LargeTensorAlignment = 4096; // lets the runtime memory-map big tensors
    private const int SmallTensorAlignment = 64;
    private readonly FileStream? _external;
    private readonly string? _externalName;
    private byte[] _scratch = [];
    private float[] _floatScratch = []; // float32 values of the float16 tensor being written

    /// <summary>Keeps every tensor inline in the model file.</summary>
    public TensorStore()
    {
    }

    /// <summary>Writes every tensor into <paramref name="externalPath"/>, referenced by its file name.</summary>
    public TensorStore(string externalPath)
    {
        _external = new FileStream(externalPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        _externalName = Path.GetFileName(externalPath);
    }

    /// <summary>True when tensors go to the side file.</summary>
    public bool IsExternal => _external is not null;

    /// <summary>Total tensor bytes stored so far.</summary>
    public long TotalBytes { get; private set; }

    /// <summary>A float32 tensor whose contents <paramref name="fill"/> writes into a zeroed span.</summary>
    public TensorProto Float(string name, long[] dims, Action<Span<float>> fill) =>
        Create(name, TensorProto.Types.DataType.Float, dims, sizeof(float), bytes =>
            fill(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes)));

    /// <summary>A float16 tensor whose float32 contents <paramref name="fill"/> writes into a zeroed span (rounded to nearest even).</summary>
    public TensorProto Half(string name, long[] dims, Action<Span<float>> fill) =>
        Create(name, TensorProto.Types.DataType.Float16, dims, sizeof(ushort), bytes =>
        {
            int count = bytes.Length / sizeof(ushort);
            if (_floatScratch.Length < count)
            {
                _floatScratch = new float[count];
            }

            Span<float> values = _floatScratch.AsSpan(0, count);
            values.Clear();
            fill(values);
            Span<ushort> halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes);
            for (int i = 0; i < count; i++)
            {
                halves[i] = BitConverter.HalfToUInt16Bits((Half)values[i]);
            }
        });

    /// <summary>A uint8 tensor whose contents <paramref name="fill"/> writes.</summary>
    public TensorProto Bytes(string name, long[] dims, Action<Span<byte>> fill) =>
        Create(name, TensorProto.Types.DataType.Uint8, dims, 1, fill);

    /// <summary>A small int64 constant, always inline.</summary>
    public static TensorProto Int64(string name, long[] dims, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    /// <summary>A small float constant, always inline.</summary>
    public static TensorProto Float32(string name, long[] dims, params float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        return tensor;
    }

    /// <inheritdoc />
    public void Dispose() => _external?.Dispose();

    private TensorProto Create(string name, TensorProto.Types.DataType type, long[] dims, int elementBytes, Action<Span<byte>> fill)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; big-endian hosts are not supported.");
        }

        long count = 1;
        foreach (long d in dims)
        {
            count *= d;
        }

        int length = checked((int)(count * elementBytes));
        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(dims);
        TotalBytes += length;

        if (_external is null)
        {
            // A fresh buffer per tensor, wrapped without copying: the model message owns it until it is written.
            byte[] buffer = new byte[length];
            fill(buffer);
            tensor.RawData = UnsafeByteOperations.UnsafeWrap(buffer);
            return tensor;
        }

        // One reusable scratch buffer: each tensor is filled, appended to the side file, then forgotten.
        if (_scratch.Length < length)
        {
            _scratch = new byte[length];
        }

        Span<byte> span = _scratch.AsSpan(0, length);
        span.Clear();
        fill(span);
        int alignment = length >= (1 << 20) ? LargeTensorAlignment : SmallTensorAlignment;
        long offset = (_external.Position + alignment - 1) / alignment * alignment;
        if (offset > _external.Position)
        {
            _external.Write(new byte[offset - _external.Position]);
        }

        _external.Write(span);
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = _externalName });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        return tensor;
    }
}
