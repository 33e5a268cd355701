using System.Buffers.Binary;
using System.Text;

namespace LlmKit.ModelBuilder.Lora;

/// <summary>One named tensor of an adapter file: float32 values in row-major order.</summary>
/// <param name="Name">The graph input it feeds.</param>
/// <param name="Dims">Its shape.</param>
/// <param name="Values">Its values.</param>
internal sealed record AdapterParameter(string Name, long[] Dims, float[] Values);

/// <summary>
/// Writes ONNX Runtime's <c>.onnx_adapter</c> file: a FlatBuffers buffer with file identifier "TORT" whose root table
/// <c>Adapter</c> holds format_version (1), adapter_version, model_version and a vector of <c>Parameter</c> tables
/// (name, dims [int64], data_type = FLOAT, raw_data [uint8] aligned to 8), per onnxruntime's
/// lora/adapter_format/adapter_schema.fbs. The buffer is laid out front to back: every offset points forward, as
/// FlatBuffers' unsigned offsets require. Stateless and thread-safe.
/// </summary>
internal static class OnnxAdapterWriter
{
    /// <summary>The adapter format version onnxruntime 1.20+ reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>TensorDataType.FLOAT in the schema.</summary>
    private const int FloatType = 1;

    public static void Write(string path, IReadOnlyList<AdapterParameter> parameters, int adapterVersion = 1, int modelVersion = 1)
    {
        var buffer = new Buffer();
        int root = buffer.Reserve(4);
        buffer.Bytes("TORT"u8);

        // Adapter: vtable (4 fields), then the table: soffset, format_version, adapter_version, model_version, parameters.
        int vtable = buffer.VTable(tableSize: 20, 4, 8, 12, 16);
        int table = buffer.Table(vtable);
        buffer.Int32(FormatVersion);
        buffer.Int32(adapterVersion);
        buffer.Int32(modelVersion);
        int parametersField = buffer.Reserve(4);
        buffer.PatchOffset(root, table);

        buffer.Align(4);
        buffer.PatchOffset(parametersField, buffer.Position);
        buffer.Int32(parameters.Count);
        int[] slots = [.. parameters.Select(_ => buffer.Reserve(4))];
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (p.Values.LongLength != p.Dims.Aggregate(1L, (a, d) => checked(a * d)))
            {
                throw new ArgumentException($"Adapter parameter '{p.Name}' has {p.Values.Length} values for shape [{string.Join(", ", p.Dims)}].", nameof(parameters));
            }

            // Parameter: name, dims, data_type, raw_data.
            int pv = buffer.VTable(tableSize: 20, 4, 8, 12, 16);
            int pt = buffer.Table(pv);
            buffer.PatchOffset(slots[i], pt);
            int nameField = buffer.Reserve(4);
            int dimsField = buffer.Reserve(4);
            buffer.Int32(FloatType);
            int dataField = buffer.Reserve(4);

            buffer.Align(4);
            buffer.PatchOffset(nameField, buffer.Position);
            byte[] name = Encoding.UTF8.GetBytes(p.Name);
            buffer.Int32(name.Length);
            buffer.Bytes(name);
            buffer.Bytes([0]);

            buffer.AlignVectorData(8);
            buffer.PatchOffset(dimsField, buffer.Position);
            buffer.Int32(p.Dims.Length);
            foreach (long d in p.Dims)
            {
                buffer.Int64(d);
            }

            buffer.AlignVectorData(8); // force_align: 8 on raw_data
            buffer.PatchOffset(dataField, buffer.Position);
            buffer.Int32(checked(p.Values.Length * sizeof(float)));
            foreach (float v in p.Values)
            {
                buffer.Float(v);
            }
        }

        buffer.Align(8);
        File.WriteAllBytes(path, buffer.ToArray());
    }

    /// <summary>A growable little-endian byte buffer with the few FlatBuffers layouts the adapter needs.</summary>
    private sealed class Buffer
    {
        private readonly MemoryStream _stream = new();

        public int Position => checked((int)_stream.Position);

        public int Reserve(int bytes)
        {
            int at = Position;
            _stream.Write(new byte[bytes]);
            return at;
        }

        public void Bytes(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

        public void Int32(int value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, value);
            _stream.Write(b);
        }

        public void Int64(long value)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, value);
            _stream.Write(b);
        }

        public void Float(float value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _stream.Write(b);
        }

        public void Align(int alignment)
        {
            while (Position % alignment != 0)
            {
                _stream.WriteByte(0);
            }
        }

        /// <summary>Pads so that a vector's data (after its 4-byte length) starts at a multiple of <paramref name="alignment"/>.</summary>
        public void AlignVectorData(int alignment)
        {
            while ((Position + 4) % alignment != 0)
            {
                _stream.WriteByte(0);
            }
        }

        /// <summary>A vtable: its size, the table's inline size, then each field's offset inside the table.</summary>
        public int VTable(int tableSize, params int[] fieldOffsets)
        {
            Align(2);
            int at = Position;
            Span<byte> b = stackalloc byte[2];
            foreach (int v in (int[])[4 + (2 * fieldOffsets.Length), tableSize, .. fieldOffsets])
            {
                BinaryPrimitives.WriteUInt16LittleEndian(b, checked((ushort)v));
                _stream.Write(b);
            }

            return at;
        }

        /// <summary>Starts a table: its first word is the signed distance back to its vtable.</summary>
        public int Table(int vtable)
        {
            Align(4);
            int at = Position;
            Int32(at - vtable);
            return at;
        }

        /// <summary>Writes at <paramref name="field"/> the unsigned forward offset to <paramref name="target"/>.</summary>
        public void PatchOffset(int field, int target)
        {
            if (target <= field)
            {
                throw new InvalidOperationException("FlatBuffers offsets must point forward.");
            }

            long end = _stream.Position;
            _stream.Position = field;
            Int32(target - field);
            _stream.Position = end;
        }

        public byte[] ToArray() => _stream.ToArray();
    }
}
