using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LlmKit.Models;

/// <summary>One tensor of an <c>.onnx_adapter</c> file: a graph input name, its element type, shape and raw bytes.</summary>
internal sealed record OnnxAdapterParameter(string Name, TensorElementType ElementType, long[] Dims, byte[] Data);

/// <summary>
/// Reads ONNX Runtime's <c>.onnx_adapter</c> format (FlatBuffers, file identifier "TORT", root table Adapter {format_version,
/// adapter_version, model_version, parameters: [Parameter {name, dims: [int64], data_type, raw_data: [uint8]}]}, per
/// onnxruntime's lora/adapter_format/adapter_schema.fbs). Every offset, length and size is checked against the file before
/// it is followed or allocated. Stateless and thread-safe.
/// </summary>
internal static class OnnxAdapterFile
{
    /// <summary>Largest adapter file read (2 GiB, FlatBuffers' own limit).</summary>
    public const long MaxFileBytes = int.MaxValue;

    public static IReadOnlyList<OnnxAdapterParameter> Read(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"The adapter file '{path}' does not exist.", path);
        }

        if (info.Length > MaxFileBytes || info.Length < 8)
        {
            throw new InvalidDataException($"'{path}' is not an .onnx_adapter file: {info.Length} bytes.");
        }

        byte[] bytes = File.ReadAllBytes(path);
        var reader = new Reader(bytes, path);
        if (!bytes.AsSpan(4, 4).SequenceEqual("TORT"u8))
        {
            throw new InvalidDataException($"'{path}' is not an .onnx_adapter file: its FlatBuffers identifier is not \"TORT\".");
        }

        int adapter = reader.Offset(0);
        int version = reader.Int32Field(adapter, 0);
        if (version != 1)
        {
            throw new InvalidDataException($"'{path}': adapter format_version {version} is not supported (1 is).");
        }

        int vector = reader.OffsetField(adapter, 3) ?? throw new InvalidDataException($"'{path}': the adapter has no parameters.");
        int count = reader.Count(vector, 4);
        var parameters = new List<OnnxAdapterParameter>(count);
        for (int i = 0; i < count; i++)
        {
            int table = reader.Offset(vector + 4 + (4 * i));
            string name = reader.String(reader.OffsetField(table, 0) ?? throw reader.Error($"parameter {i} has no name"));
            int dimsAt = reader.OffsetField(table, 1) ?? throw reader.Error($"parameter '{name}' has no dims");
            int rank = reader.Count(dimsAt, 8);
            var dims = new long[rank];
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                dims[d] = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(dimsAt + 4 + (8 * d)));
                if (dims[d] < 0 || dims[d] > int.MaxValue || (dims[d] > 0 && elements > int.MaxValue / dims[d]))
                {
                    throw reader.Error($"parameter '{name}' has dimension {dims[d]} (or more than {int.MaxValue} elements)");
                }

                elements *= dims[d];
            }

            var type = reader.Int32Field(table, 2) switch
            {
                1 => TensorElementType.Float,
                10 => TensorElementType.Float16,
                16 => TensorElementType.BFloat16,
                int other => throw reader.Error($"parameter '{name}' has data type {other}; only FLOAT, FLOAT16 and BFLOAT16 are supported"),
            };
            int elementBytes = type == TensorElementType.Float ? 4 : 2;
            int dataAt = reader.OffsetField(table, 3) ?? throw reader.Error($"parameter '{name}' has no data");
            int length = reader.Count(dataAt, 1);
            if (length != elements * elementBytes)
            {
                throw reader.Error($"parameter '{name}' of shape [{string.Join(", ", dims)}] holds {length} bytes, not {elements * elementBytes}");
            }

            parameters.Add(new OnnxAdapterParameter(name, type, dims, bytes.AsSpan(dataAt + 4, length).ToArray()));
        }

        return parameters;
    }

    /// <summary>Bounds-checked FlatBuffers accessors over one buffer.</summary>
    private readonly struct Reader(byte[] bytes, string path)
    {
        public InvalidDataException Error(string what) => new($"'{path}' is a malformed .onnx_adapter file: {what}.");

        /// <summary>Follows the unsigned offset stored at <paramref name="at"/>.</summary>
        public int Offset(int at)
        {
            Require(at, 4);
            long target = at + (long)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            if (target >= bytes.Length)
            {
                throw Error($"offset at byte {at} points past the end");
            }

            return (int)target;
        }

        /// <summary>Element count of the vector at <paramref name="at"/>, checked to fit the buffer.</summary>
        public int Count(int at, int elementBytes)
        {
            Require(at, 4);
            long count = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            if (at + 4 + (count * elementBytes) > bytes.Length)
            {
                throw Error($"vector at byte {at} of {count} elements runs past the end");
            }

            return (int)count;
        }

        public string String(int at)
        {
            int length = Count(at, 1);
            return Encoding.UTF8.GetString(bytes, at + 4, length);
        }

        public int Int32Field(int table, int field) => FieldPosition(table, field) is { } at ? BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(Require(at, 4))) : 0;

        public int? OffsetField(int table, int field) => FieldPosition(table, field) is { } at ? Offset(at) : null;

        // A table starts with the signed distance back to its vtable: [vtable size, table size, field offsets...] (uint16).
        private int? FieldPosition(int table, int field)
        {
            Require(table, 4);
            long vtable = table - (long)BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(table));
            if (vtable < 0 || vtable + 4 > bytes.Length)
            {
                throw Error($"table at byte {table} has its vtable outside the file");
            }

            int vtableSize = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)vtable));
            Require((int)vtable, vtableSize);
            int slot = 4 + (2 * field);
            if (slot + 2 > vtableSize)
            {
                return null; // field absent (written by an older schema)
            }

            int offset = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)vtable + slot));
            return offset == 0 ? null : table + offset;
        }

        private int Require(int at, int length)
        {
            if (at < 0 || (long)at + length > bytes.Length)
            {
                throw Error($"{length} bytes at {at} run past the end");
            }

            return at;
        }
    }
}
