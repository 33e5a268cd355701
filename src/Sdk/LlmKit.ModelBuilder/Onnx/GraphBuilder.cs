using Google.Protobuf;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder.Onnx;

/// <summary>
/// A thin helper over <see cref="GraphProto"/>: adds nodes named in the official ORT GenAI builder's style
/// ("/model/layers.0/attn/q_proj/MatMul", outputs ".../output_0"), inputs, outputs and constants.
/// Not thread-safe.
/// </summary>
internal sealed class GraphBuilder
{
    /// <summary>The ONNX element type for float32.</summary>
    public const int Float = (int)TensorProto.Types.DataType.Float;

    /// <summary>The ONNX element type for float16.</summary>
    public const int Float16 = (int)TensorProto.Types.DataType.Float16;

    /// <summary>The ONNX element type for int64.</summary>
    public const int Int64 = (int)TensorProto.Types.DataType.Int64;

    /// <summary>The ONNX element type for int32.</summary>
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;

    /// <summary>The ONNX element type for bool.</summary>
    public const int Bool = (int)TensorProto.Types.DataType.Bool;

    private readonly HashSet<string> _constants = new(StringComparer.Ordinal);

    public GraphBuilder(string name) => Graph = new GraphProto { Name = name };

    public GraphProto Graph { get; }

    /// <summary>Adds a node with one output named "{name}/output_0" and returns that output.</summary>
    public string Node(string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeWithOutputs(opType, name, inputs, 1, "", attributes)[0];

    /// <summary>Adds a node in a non-default domain with one output.</summary>
    public string DomainNode(string domain, string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeWithOutputs(opType, name, inputs, 1, domain, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs named "{name}/output_i".</summary>
    public string[] NodeWithOutputs(string opType, string name, IEnumerable<string> inputs, int outputCount, string domain, params AttributeProto[] attributes)
    {
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = $"{name}/output_{i}";
        }

        AddNode(opType, name, inputs, outputs, domain, attributes);
        return outputs;
    }

    /// <summary>Adds a node whose outputs have given names (graph outputs such as "logits").</summary>
    public void AddNode(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, string domain = "", params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    public void Initializer(TensorProto tensor) => Graph.Initializer.Add(tensor);

    /// <summary>An int64 constant initializer, added once per name.</summary>
    public string Int64Constant(string name, long[] dims, params long[] values)
    {
        if (_constants.Add(name))
        {
            Graph.Initializer.Add(TensorStore.Int64(name, dims, values));
        }

        return name;
    }

    /// <summary>A 1-D int64 constant, e.g. a Reshape target shape or Unsqueeze axes.</summary>
    public string Int64Vector(string name, params long[] values) => Int64Constant(name, [values.Length], values);

    /// <summary>A float32 scalar constant initializer, added once per name.</summary>
    public string FloatScalar(string name, float value)
    {
        if (_constants.Add(name))
        {
            Graph.Initializer.Add(TensorStore.Float32(name, [], value));
        }

        return name;
    }

    public void Input(string name, int elementType, params object[] dims) => Graph.Input.Add(ValueInfo(name, elementType, dims));

    public void Output(string name, int elementType, params object[] dims) => Graph.Output.Add(ValueInfo(name, elementType, dims));

    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attr(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A value description; each dim is a symbolic name (string) or a fixed size (int/long).</summary>
    public static ValueInfoProto ValueInfo(string name, int elementType, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"Unsupported dimension {dim}.", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } },
        };
    }
}
