using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace LlmKit.OnnxRuntimeGenAI.Interop;

/// <summary>
/// The parts of the onnxruntime-genai C API (<c>ort_genai_c.h</c>) that its 0.20.0 managed API does not expose:
/// <c>OgaGenerator_GetLogits</c> and the tensor accessors needed to read its result. The library name is the one the
/// managed package imports, so the same native library (CPU, CUDA or DirectML build) serves both.
/// </summary>
internal static partial class OgaNative
{
    private const string Library = "onnxruntime-genai";

    // OgaResult* OgaGenerator_GetLogits(OgaGenerator* generator, OgaTensor** out): a CPU float32 copy of the last
    // position's logits, shape [batch, 1, vocab], owned by the caller.
    [LibraryImport(Library, EntryPoint = "OgaGenerator_GetLogits")]
    private static partial IntPtr GeneratorGetLogits(IntPtr generator, out IntPtr tensor);

    [LibraryImport(Library, EntryPoint = "OgaTensorGetType")]
    private static partial IntPtr TensorGetType(IntPtr tensor, out int elementType);

    [LibraryImport(Library, EntryPoint = "OgaTensorGetShapeRank")]
    private static partial IntPtr TensorGetShapeRank(IntPtr tensor, out nuint rank);

    [LibraryImport(Library, EntryPoint = "OgaTensorGetShape")]
    private static partial IntPtr TensorGetShape(IntPtr tensor, [Out] long[] shape, nuint rank);

    [LibraryImport(Library, EntryPoint = "OgaTensorGetData")]
    private static partial IntPtr TensorGetData(IntPtr tensor, out IntPtr data);

    [LibraryImport(Library, EntryPoint = "OgaDestroyTensor")]
    private static partial void DestroyTensor(IntPtr tensor);

    [LibraryImport(Library, EntryPoint = "OgaResultGetError")]
    private static partial IntPtr ResultGetError(IntPtr result);

    [LibraryImport(Library, EntryPoint = "OgaDestroyResult")]
    private static partial void DestroyResult(IntPtr result);

    // OgaElementType values (ort_genai_c.h).
    private const int Float32 = 1;
    private const int Float16 = 10;

    private static readonly Func<Generator, IntPtr> HandleOf = CreateHandleAccessor();

    /// <summary>
    /// Copies the logits of the generator's last processed position into <paramref name="destination"/> (length = vocabulary).
    /// Call it after <see cref="Generator.AppendTokens"/> and before <see cref="Generator.GenerateNextToken"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The native call failed or returned an unexpected shape; the message says which.</exception>
    public static unsafe void CopyLastLogits(Generator generator, Span<float> destination)
    {
        IntPtr handle = HandleOf(generator);
        Check(GeneratorGetLogits(handle, out IntPtr tensor), "OgaGenerator_GetLogits");
        try
        {
            Check(TensorGetType(tensor, out int type), "OgaTensorGetType");
            Check(TensorGetShapeRank(tensor, out nuint rank), "OgaTensorGetShapeRank");
            var shape = new long[(int)rank];
            Check(TensorGetShape(tensor, shape, rank), "OgaTensorGetShape");
            long count = 1;
            foreach (long d in shape)
            {
                count *= d;
            }

            if (count != destination.Length)
            {
                throw new InvalidOperationException(
                    $"OgaGenerator_GetLogits returned shape [{string.Join(", ", shape)}] ({count} values); expected one row of {destination.Length} (batch 1, vocabulary {destination.Length}).");
            }

            Check(TensorGetData(tensor, out IntPtr data), "OgaTensorGetData");
            switch (type)
            {
                case Float32:
                    new ReadOnlySpan<float>((void*)data, destination.Length).CopyTo(destination);
                    break;
                case Float16:
                    var half = new ReadOnlySpan<Half>((void*)data, destination.Length);
                    for (int i = 0; i < half.Length; i++)
                    {
                        destination[i] = (float)half[i];
                    }

                    break;
                default:
                    throw new InvalidOperationException($"OgaGenerator_GetLogits returned element type {type}; expected float32 ({Float32}) or float16 ({Float16}).");
            }
        }
        finally
        {
            DestroyTensor(tensor);
        }
    }

    private static void Check(IntPtr result, string function)
    {
        if (result == IntPtr.Zero)
        {
            return;
        }

        try
        {
            string message = Marshal.PtrToStringUTF8(ResultGetError(result)) ?? "(no message)";
            throw new InvalidOperationException($"onnxruntime-genai {function} failed: {message}");
        }
        finally
        {
            DestroyResult(result);
        }
    }

    // The managed Generator keeps its native OgaGenerator* in a non-public member (0.20.0: property Handle, field
    // _generatorHandle). Read once by reflection; a later package that renames it fails here with a clear message.
    private static Func<Generator, IntPtr> CreateHandleAccessor()
    {
        const BindingFlags Flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var property = typeof(Generator).GetProperty("Handle", Flags);
        if (property?.GetMethod is { } getter && property.PropertyType == typeof(IntPtr))
        {
            return getter.CreateDelegate<Func<Generator, IntPtr>>();
        }

        var field = typeof(Generator).GetField("_generatorHandle", Flags);
        if (field is not null && field.FieldType == typeof(IntPtr))
        {
            return generator => (IntPtr)field.GetValue(generator)!;
        }

        string version = typeof(Generator).Assembly.GetName().Version?.ToString() ?? "unknown";
        return _ => throw new NotSupportedException(
            $"Cannot read the native handle of Microsoft.ML.OnnxRuntimeGenAI.Generator (assembly version {version}): neither the Handle property nor the _generatorHandle field exists. " +
            "LlmKit.OnnxRuntimeGenAI's token scorer is built for Microsoft.ML.OnnxRuntimeGenAI 0.20.0.");
    }
}
